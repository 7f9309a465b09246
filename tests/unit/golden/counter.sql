-- golden DDL for mapping counter (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: counter: pg_cron

CREATE TABLE IF NOT EXISTS "public"."redis_views" (
    key text PRIMARY KEY,
    value bigint NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "redis_views_expires_at_idx" ON "public"."redis_views" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_views_live" AS
SELECT key, value, expires_at
FROM "public"."redis_views"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE FUNCTION "public"."redis_views_incr"(key text, by bigint DEFAULT 1)
RETURNS bigint
LANGUAGE sql
AS $pgc$
INSERT INTO "public"."redis_views" AS t (key, value, expires_at)
VALUES ($1, $2, NULL)
ON CONFLICT (key) DO UPDATE
SET value = CASE WHEN t.expires_at <= now() THEN excluded.value ELSE t.value + excluded.value END,
    expires_at = CASE WHEN t.expires_at <= now() THEN NULL ELSE t.expires_at END
RETURNING value
$pgc$;

-- in pg_cron's database (cron.database_name):

CREATE EXTENSION IF NOT EXISTS pg_cron;

SELECT cron.schedule_in_database('pgconsolidate_cleanup_app_public_redis_views', '* * * * *', 'DELETE FROM "public"."redis_views" WHERE expires_at <= now()', 'app');

-- sweep:
DELETE FROM "public"."redis_views" WHERE expires_at <= now();

-- variant: counter: bytea keys, sweep, name with $pgc$

CREATE TABLE IF NOT EXISTS "public"."c$pgc$x" (
    key bytea PRIMARY KEY,
    value bigint NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "c$pgc$x_expires_at_idx" ON "public"."c$pgc$x" (expires_at);

CREATE OR REPLACE VIEW "public"."c$pgc$x_live" AS
SELECT key, value, expires_at
FROM "public"."c$pgc$x"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE FUNCTION "public"."c$pgc$x_incr"(key bytea, by bigint DEFAULT 1)
RETURNS bigint
LANGUAGE sql
AS $pgc1$
INSERT INTO "public"."c$pgc$x" AS t (key, value, expires_at)
VALUES ($1, $2, NULL)
ON CONFLICT (key) DO UPDATE
SET value = CASE WHEN t.expires_at <= now() THEN excluded.value ELSE t.value + excluded.value END,
    expires_at = CASE WHEN t.expires_at <= now() THEN NULL ELSE t.expires_at END
RETURNING value
$pgc1$;

-- sweep:
DELETE FROM "public"."c$pgc$x" WHERE expires_at <= now();
