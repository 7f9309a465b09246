-- golden DDL for mapping es_index (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: articles: english tsvector, trgm, halfvec(3072) ip, PostGIS, filtered alias

CREATE EXTENSION IF NOT EXISTS "postgis";

CREATE EXTENSION IF NOT EXISTS "vector";

CREATE EXTENSION IF NOT EXISTS "pg_trgm";

CREATE TABLE IF NOT EXISTS "public"."es_articles" (
    "_id" text NOT NULL,
    "title" text,
    "title__raw" text,
    "body" text,
    "all_text" text GENERATED ALWAYS AS (CASE WHEN "title" IS NULL AND "body" IS NULL THEN NULL ELSE coalesce("title", '') || ' ' || coalesce("body", '') END) STORED,
    "tags" text[],
    "author__name_afde46" text,
    "author__name_d3d596" text,
    "select_" integer,
    "order_" text,
    "published_at" timestamptz,
    "views" bigint,
    "rating" real,
    "ip" inet,
    "location" geography(Point,4326),
    "embedding" halfvec(3072),
    "comments" jsonb,
    "suggest" text,
    "labels" jsonb,
    "_extra" jsonb,
    "search_vector" tsvector GENERATED ALWAYS AS (setweight(to_tsvector('english'::regconfig, coalesce("title", '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce("body", '')), 'C') || setweight(to_tsvector('english'::regconfig, coalesce("suggest", '')), 'C')) STORED,
    PRIMARY KEY ("_id")
);

CREATE INDEX IF NOT EXISTS "es_articles_title__raw_idx" ON "public"."es_articles" ("title__raw");

CREATE INDEX IF NOT EXISTS "es_articles_tags_idx" ON "public"."es_articles" USING gin ("tags");

CREATE INDEX IF NOT EXISTS "es_articles_author__name_afde46_idx" ON "public"."es_articles" ("author__name_afde46");

CREATE INDEX IF NOT EXISTS "es_articles_author__name_d3d596_idx" ON "public"."es_articles" ("author__name_d3d596");

CREATE INDEX IF NOT EXISTS "es_articles_order__idx" ON "public"."es_articles" ("order_");

CREATE INDEX IF NOT EXISTS "es_articles_location_idx" ON "public"."es_articles" USING gist ("location");

CREATE INDEX IF NOT EXISTS "es_articles_embedding_idx" ON "public"."es_articles" USING hnsw ("embedding" halfvec_ip_ops);

CREATE INDEX IF NOT EXISTS "es_articles_comments_idx" ON "public"."es_articles" USING gin ("comments");

CREATE INDEX IF NOT EXISTS "es_articles_suggest_idx" ON "public"."es_articles" USING gin ("suggest" gin_trgm_ops);

CREATE INDEX IF NOT EXISTS "es_articles_labels_idx" ON "public"."es_articles" USING gin ("labels");

CREATE INDEX IF NOT EXISTS "es_articles_search_vector_idx" ON "public"."es_articles" USING gin ("search_vector");

CREATE OR REPLACE VIEW "public"."es_articles_read" AS SELECT * FROM "public"."es_articles";

CREATE OR REPLACE VIEW "public"."es_ada_articles" AS SELECT * FROM "public"."es_articles" WHERE "author__name_afde46" = 'Ada' AND "views" >= 10;

-- variant: log family: monthly partitions, pg_search BM25, earthdistance, partial alias skipped

CREATE EXTENSION IF NOT EXISTS "cube";

CREATE EXTENSION IF NOT EXISTS "earthdistance";

CREATE EXTENSION IF NOT EXISTS "vector";

CREATE EXTENSION IF NOT EXISTS "pg_search";

CREATE TABLE IF NOT EXISTS "search"."es_logs" (
    "_id" text NOT NULL,
    "title" text,
    "title__raw" text,
    "body" text,
    "all_text" text GENERATED ALWAYS AS (CASE WHEN "title" IS NULL AND "body" IS NULL THEN NULL ELSE coalesce("title", '') || ' ' || coalesce("body", '') END) STORED,
    "tags" text[],
    "author__name_afde46" text,
    "author__name_d3d596" text,
    "select_" integer,
    "order_" text,
    "published_at" timestamptz,
    "views" bigint,
    "rating" real,
    "ip" inet,
    "location" point,
    "embedding" vector(8),
    "comments" jsonb,
    "timestamp" timestamptz NOT NULL,
    "message" text,
    "_extra" jsonb,
    "search_vector" tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple'::regconfig, coalesce("title", '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce("body", '')), 'C') || setweight(to_tsvector('simple'::regconfig, coalesce("message", '')), 'C')) STORED,
    PRIMARY KEY ("_id", "timestamp")
) PARTITION BY RANGE ("timestamp");

CREATE TABLE IF NOT EXISTS "search"."es_logs_p2025_12" PARTITION OF "search"."es_logs" FOR VALUES FROM ('2025-12-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "search"."es_logs_p2026_01" PARTITION OF "search"."es_logs" FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "search"."es_logs_p2026_02" PARTITION OF "search"."es_logs" FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "search"."es_logs_p2026_03" PARTITION OF "search"."es_logs" FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "search"."es_logs_p2026_04" PARTITION OF "search"."es_logs" FOR VALUES FROM ('2026-04-01 00:00:00+00') TO ('2026-05-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "search"."es_logs_p2026_05" PARTITION OF "search"."es_logs" FOR VALUES FROM ('2026-05-01 00:00:00+00') TO ('2026-06-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "search"."es_logs_p2026_06" PARTITION OF "search"."es_logs" FOR VALUES FROM ('2026-06-01 00:00:00+00') TO ('2026-07-01 00:00:00+00');

CREATE TABLE IF NOT EXISTS "search"."es_logs_default" PARTITION OF "search"."es_logs" DEFAULT;

CREATE INDEX IF NOT EXISTS "es_logs_title__raw_idx" ON "search"."es_logs" ("title__raw");

CREATE INDEX IF NOT EXISTS "es_logs_tags_idx" ON "search"."es_logs" USING gin ("tags");

CREATE INDEX IF NOT EXISTS "es_logs_author__name_afde46_idx" ON "search"."es_logs" ("author__name_afde46");

CREATE INDEX IF NOT EXISTS "es_logs_author__name_d3d596_idx" ON "search"."es_logs" ("author__name_d3d596");

CREATE INDEX IF NOT EXISTS "es_logs_order__idx" ON "search"."es_logs" ("order_");

CREATE INDEX IF NOT EXISTS "es_logs_location_idx" ON "search"."es_logs" USING gist (ll_to_earth("location"[1], "location"[0]));

CREATE INDEX IF NOT EXISTS "es_logs_embedding_idx" ON "search"."es_logs" USING hnsw ("embedding" vector_cosine_ops);

CREATE INDEX IF NOT EXISTS "es_logs_comments_idx" ON "search"."es_logs" USING gin ("comments");

CREATE INDEX IF NOT EXISTS "es_logs_timestamp_idx" ON "search"."es_logs" ("timestamp");

CREATE INDEX IF NOT EXISTS "es_logs_bm25_idx" ON "search"."es_logs" USING bm25 ("_id", "title", "body", "message") WITH (key_field='_id');

CREATE OR REPLACE VIEW "search"."es_logs_view" AS SELECT * FROM "search"."es_logs";
