-- golden DDL for mapping stream_table (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: stream: text, not partitioned, sweep

CREATE TABLE IF NOT EXISTS "public"."redis_events" (
    stream_key text NOT NULL,
    entry_ms bigint NOT NULL,
    entry_seq bigint NOT NULL,
    entry_at timestamptz NOT NULL,
    fields jsonb NOT NULL,
    expires_at timestamptz NULL,
    PRIMARY KEY (stream_key, entry_ms, entry_seq)
);

CREATE INDEX IF NOT EXISTS "redis_events_entry_at_idx" ON "public"."redis_events" (entry_at);

CREATE INDEX IF NOT EXISTS "redis_events_expires_at_idx" ON "public"."redis_events" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_events_live" AS
SELECT stream_key, entry_ms::text || '-' || entry_seq::text AS entry_id, entry_ms, entry_seq, entry_at, fields, expires_at
FROM "public"."redis_events"
WHERE expires_at IS NULL OR expires_at > now();

CREATE TABLE IF NOT EXISTS "public"."redis_events_groups" (
    stream_key text NOT NULL,
    group_name text NOT NULL,
    last_delivered_ms bigint NOT NULL,
    last_delivered_seq bigint NOT NULL,
    entries_read bigint NULL,
    lag bigint NULL,
    pending bigint NOT NULL,
    consumers jsonb NOT NULL,
    pending_ids jsonb NOT NULL,
    pending_ids_complete boolean NOT NULL,
    expires_at timestamptz NULL,
    PRIMARY KEY (stream_key, group_name)
);

CREATE INDEX IF NOT EXISTS "redis_events_groups_expires_at_idx" ON "public"."redis_events_groups" (expires_at);

-- sweep:
WITH expired_groups AS (DELETE FROM "public"."redis_events_groups" WHERE expires_at <= now()) DELETE FROM "public"."redis_events" WHERE expires_at <= now();

-- variant: stream: bytea keys, base64 pairs, monthly partitions (no pg_partman), pg_cron

CREATE TABLE IF NOT EXISTS "app"."redis_stream" (
    stream_key bytea NOT NULL,
    entry_ms bigint NOT NULL,
    entry_seq bigint NOT NULL,
    entry_at timestamptz NOT NULL,
    fields jsonb NOT NULL,
    expires_at timestamptz NULL,
    PRIMARY KEY (stream_key, entry_ms, entry_seq, entry_at)
) PARTITION BY RANGE (entry_at);

CREATE TABLE IF NOT EXISTS "app"."redis_stream_p2025_12" PARTITION OF "app"."redis_stream" FOR VALUES FROM ('2025-12-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "app"."redis_stream_p2026_01" PARTITION OF "app"."redis_stream" FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "app"."redis_stream_p2026_02" PARTITION OF "app"."redis_stream" FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "app"."redis_stream_p2026_03" PARTITION OF "app"."redis_stream" FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "app"."redis_stream_p2026_04" PARTITION OF "app"."redis_stream" FOR VALUES FROM ('2026-04-01 00:00:00+00') TO ('2026-05-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "app"."redis_stream_p2026_05" PARTITION OF "app"."redis_stream" FOR VALUES FROM ('2026-05-01 00:00:00+00') TO ('2026-06-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "app"."redis_stream_default" PARTITION OF "app"."redis_stream" DEFAULT;

CREATE INDEX IF NOT EXISTS "redis_stream_entry_at_idx" ON "app"."redis_stream" (entry_at);

CREATE INDEX IF NOT EXISTS "redis_stream_expires_at_idx" ON "app"."redis_stream" (expires_at);

CREATE OR REPLACE VIEW "app"."redis_stream_live" AS
SELECT stream_key, entry_ms::text || '-' || entry_seq::text AS entry_id, entry_ms, entry_seq, entry_at, fields, expires_at
FROM "app"."redis_stream"
WHERE expires_at IS NULL OR expires_at > now();

CREATE TABLE IF NOT EXISTS "app"."redis_stream_groups" (
    stream_key bytea NOT NULL,
    group_name text NOT NULL,
    last_delivered_ms bigint NOT NULL,
    last_delivered_seq bigint NOT NULL,
    entries_read bigint NULL,
    lag bigint NULL,
    pending bigint NOT NULL,
    consumers jsonb NOT NULL,
    pending_ids jsonb NOT NULL,
    pending_ids_complete boolean NOT NULL,
    expires_at timestamptz NULL,
    PRIMARY KEY (stream_key, group_name)
);

CREATE INDEX IF NOT EXISTS "redis_stream_groups_expires_at_idx" ON "app"."redis_stream_groups" (expires_at);

-- in pg_cron's database (cron.database_name):

CREATE EXTENSION IF NOT EXISTS pg_cron;

SELECT cron.schedule_in_database('pgconsolidate_cleanup_app_app_redis_stream', '* * * * *', 'WITH expired_groups AS (DELETE FROM "app"."redis_stream_groups" WHERE expires_at <= now()) DELETE FROM "app"."redis_stream" WHERE expires_at <= now()', 'app');

-- sweep:
WITH expired_groups AS (DELETE FROM "app"."redis_stream_groups" WHERE expires_at <= now()) DELETE FROM "app"."redis_stream" WHERE expires_at <= now();
