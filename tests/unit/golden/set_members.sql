-- golden DDL for mapping set_members (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: set: text members, member index, sweep

CREATE TABLE IF NOT EXISTS "public"."redis_tags" (
    set_key text NOT NULL,
    member text NOT NULL,
    expires_at timestamptz NULL,
    PRIMARY KEY (set_key, member)
);

CREATE INDEX IF NOT EXISTS "redis_tags_member_idx" ON "public"."redis_tags" (member);

CREATE INDEX IF NOT EXISTS "redis_tags_expires_at_idx" ON "public"."redis_tags" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_tags_live" AS
SELECT set_key, member, expires_at
FROM "public"."redis_tags"
WHERE expires_at IS NULL OR expires_at > now();

-- sweep:
DELETE FROM "public"."redis_tags" WHERE expires_at <= now();

-- variant: set: bytea key and members, pg_cron

CREATE TABLE IF NOT EXISTS "app"."redis_members" (
    set_key bytea NOT NULL,
    member bytea NOT NULL,
    expires_at timestamptz NULL,
    PRIMARY KEY (set_key, member)
);

CREATE INDEX IF NOT EXISTS "redis_members_expires_at_idx" ON "app"."redis_members" (expires_at);

CREATE OR REPLACE VIEW "app"."redis_members_live" AS
SELECT set_key, member, expires_at
FROM "app"."redis_members"
WHERE expires_at IS NULL OR expires_at > now();

-- in pg_cron's database (cron.database_name):

CREATE EXTENSION IF NOT EXISTS pg_cron;

SELECT cron.schedule_in_database('pgconsolidate_cleanup_app_app_redis_members', '* * * * *', 'DELETE FROM "app"."redis_members" WHERE expires_at <= now()', 'app');

-- sweep:
DELETE FROM "app"."redis_members" WHERE expires_at <= now();
