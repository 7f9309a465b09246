-- golden DDL for mapping hash_jsonb (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: session hash: unlogged, pg_cron

CREATE UNLOGGED TABLE IF NOT EXISTS "public"."redis_sess" (
    key text PRIMARY KEY,
    fields jsonb NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "redis_sess_expires_at_idx" ON "public"."redis_sess" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_sess_live" AS
SELECT key, fields, expires_at
FROM "public"."redis_sess"
WHERE expires_at IS NULL OR expires_at > now();

-- in pg_cron's database (cron.database_name):

CREATE EXTENSION IF NOT EXISTS pg_cron;

SELECT cron.schedule_in_database('pgconsolidate_cleanup_app_public_redis_sess', '* * * * *', 'DELETE FROM "public"."redis_sess" WHERE expires_at <= now()', 'app');

-- sweep:
DELETE FROM "public"."redis_sess" WHERE expires_at <= now();

-- variant: object hash: logged base64, no cleanup

CREATE TABLE IF NOT EXISTS "public"."redis_user" (
    key text PRIMARY KEY,
    fields jsonb NOT NULL,
    expires_at timestamptz NULL
);

CREATE INDEX IF NOT EXISTS "redis_user_expires_at_idx" ON "public"."redis_user" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_user_live" AS
SELECT key, fields, expires_at
FROM "public"."redis_user"
WHERE expires_at IS NULL OR expires_at > now();

-- sweep:
DELETE FROM "public"."redis_user" WHERE expires_at <= now();
