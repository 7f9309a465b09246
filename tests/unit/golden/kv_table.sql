-- golden DDL for mapping kv_table (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: cache: unlogged text, pg_cron

CREATE UNLOGGED TABLE IF NOT EXISTS "public"."redis_cache" (
    key text PRIMARY KEY,
    value text NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "redis_cache_expires_at_idx" ON "public"."redis_cache" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_cache_live" AS
SELECT key, value, expires_at
FROM "public"."redis_cache"
WHERE expires_at IS NULL OR expires_at > now();

-- in pg_cron's database (cron.database_name):

CREATE EXTENSION IF NOT EXISTS pg_cron;

SELECT cron.schedule_in_database('pgconsolidate_cleanup_app_public_redis_cache', '* * * * *', 'DELETE FROM "public"."redis_cache" WHERE expires_at <= now()', 'app');

-- sweep:
DELETE FROM "public"."redis_cache" WHERE expires_at <= now();

-- variant: session: unlogged jsonb, sweep, custom schema

CREATE UNLOGGED TABLE IF NOT EXISTS "app"."redis_session" (
    key text PRIMARY KEY,
    value jsonb,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "redis_session_expires_at_idx" ON "app"."redis_session" (expires_at);

CREATE OR REPLACE VIEW "app"."redis_session_live" AS
SELECT key, value, expires_at
FROM "app"."redis_session"
WHERE expires_at IS NULL OR expires_at > now();

-- sweep:
DELETE FROM "app"."redis_session" WHERE expires_at <= now();

-- variant: document: logged bytea key and value, no cleanup

CREATE TABLE IF NOT EXISTS "public"."odd ""name""" (
    key bytea PRIMARY KEY,
    value bytea NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "odd ""name""_expires_at_idx" ON "public"."odd ""name""" (expires_at);

CREATE OR REPLACE VIEW "public"."odd ""name""_live" AS
SELECT key, value, expires_at
FROM "public"."odd ""name"""
WHERE expires_at IS NULL OR expires_at > now();

-- sweep:
DELETE FROM "public"."odd ""name""" WHERE expires_at <= now();
