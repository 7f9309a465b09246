-- golden DDL for mapping notify_channel (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: channel: mixed case with a colon

CREATE OR REPLACE FUNCTION "public"."redis_channel_orders_created_publish"(payload text)
RETURNS void
LANGUAGE plpgsql
AS $pgc$
BEGIN
    IF octet_length(payload) >= 8000 THEN
        RAISE EXCEPTION 'NOTIFY payload for channel % is % bytes; payloads must be shorter than 8000 bytes', 'Orders:Created', octet_length(payload)
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'publish a row id and let listeners fetch the row';
    END IF;
    PERFORM pg_notify('Orders:Created', payload);
END
$pgc$;

CREATE OR REPLACE FUNCTION "public"."redis_channel_orders_created_notify_row"()
RETURNS pg_catalog.trigger
LANGUAGE plpgsql
AS $pgc$
DECLARE
    key_column text := coalesce(TG_ARGV[0], 'id');
    changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
    PERFORM "public"."redis_channel_orders_created_publish"(json_build_object(
        'op', TG_OP,
        'schema', TG_TABLE_SCHEMA,
        'table', TG_TABLE_NAME,
        'id', changed -> key_column
    )::text);
    RETURN NULL;
END
$pgc$;

-- variant: channel: quote and $pgc$ in the name, custom schema

CREATE OR REPLACE FUNCTION "app"."redis_channel_news_publish"(payload text)
RETURNS void
LANGUAGE plpgsql
AS $pgc1$
BEGIN
    IF octet_length(payload) >= 8000 THEN
        RAISE EXCEPTION 'NOTIFY payload for channel % is % bytes; payloads must be shorter than 8000 bytes', 'it''s $pgc$ news', octet_length(payload)
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'publish a row id and let listeners fetch the row';
    END IF;
    PERFORM pg_notify('it''s $pgc$ news', payload);
END
$pgc1$;

CREATE OR REPLACE FUNCTION "app"."redis_channel_news_notify_row"()
RETURNS pg_catalog.trigger
LANGUAGE plpgsql
AS $pgc1$
DECLARE
    key_column text := coalesce(TG_ARGV[0], 'id');
    changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
    PERFORM "app"."redis_channel_news_publish"(json_build_object(
        'op', TG_OP,
        'schema', TG_TABLE_SCHEMA,
        'table', TG_TABLE_NAME,
        'id', changed -> key_column
    )::text);
    RETURN NULL;
END
$pgc1$;
