-- golden DDL for mapping rate_limit (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: rate limit: unlogged, pg_cron

CREATE UNLOGGED TABLE IF NOT EXISTS "public"."redis_limits_limiter" (
    key text PRIMARY KEY,
    value bigint NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "redis_limits_limiter_expires_at_idx" ON "public"."redis_limits_limiter" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_limits_limiter_live" AS
SELECT key, value, expires_at
FROM "public"."redis_limits_limiter"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE FUNCTION "public"."redis_limits_limiter_hit"(key text, max_hits bigint, window_seconds double precision, cost bigint DEFAULT 1)
RETURNS TABLE (allowed boolean, hits bigint, reset_at timestamptz)
LANGUAGE sql
STRICT
AS $pgc$
INSERT INTO "public"."redis_limits_limiter" AS t (key, value, expires_at)
VALUES ($1, $4, now() + make_interval(secs => $3))
ON CONFLICT (key) DO UPDATE
SET value = CASE WHEN t.expires_at <= now() THEN excluded.value ELSE t.value + excluded.value END,
    expires_at = CASE WHEN t.expires_at > now() THEN t.expires_at ELSE excluded.expires_at END
RETURNING t.value <= $2, t.value, t.expires_at
$pgc$;

-- in pg_cron's database (cron.database_name):

CREATE EXTENSION IF NOT EXISTS pg_cron;

SELECT cron.schedule_in_database('pgconsolidate_cleanup_app_public_redis_limits_limiter', '* * * * *', 'DELETE FROM "public"."redis_limits_limiter" WHERE expires_at <= now()', 'app');

-- sweep:
DELETE FROM "public"."redis_limits_limiter" WHERE expires_at <= now();

-- variant: rate limit: logged bytea keys, sweep, name with $pgc$

CREATE TABLE IF NOT EXISTS "app"."rl$pgc$x" (
    key bytea PRIMARY KEY,
    value bigint NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "rl$pgc$x_expires_at_idx" ON "app"."rl$pgc$x" (expires_at);

CREATE OR REPLACE VIEW "app"."rl$pgc$x_live" AS
SELECT key, value, expires_at
FROM "app"."rl$pgc$x"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE FUNCTION "app"."rl$pgc$x_hit"(key bytea, max_hits bigint, window_seconds double precision, cost bigint DEFAULT 1)
RETURNS TABLE (allowed boolean, hits bigint, reset_at timestamptz)
LANGUAGE sql
STRICT
AS $pgc1$
INSERT INTO "app"."rl$pgc$x" AS t (key, value, expires_at)
VALUES ($1, $4, now() + make_interval(secs => $3))
ON CONFLICT (key) DO UPDATE
SET value = CASE WHEN t.expires_at <= now() THEN excluded.value ELSE t.value + excluded.value END,
    expires_at = CASE WHEN t.expires_at > now() THEN t.expires_at ELSE excluded.expires_at END
RETURNING t.value <= $2, t.value, t.expires_at
$pgc1$;

-- sweep:
DELETE FROM "app"."rl$pgc$x" WHERE expires_at <= now();
