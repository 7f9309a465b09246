-- golden DDL for mapping leaderboard (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: leaderboard: text members, no cleanup

CREATE TABLE IF NOT EXISTS "public"."redis_scores" (
    board text NOT NULL,
    member text COLLATE "C" NOT NULL,
    score double precision NOT NULL CHECK (score <> 'NaN'::double precision),
    expires_at timestamptz NULL,
    PRIMARY KEY (board, member)
);

CREATE INDEX IF NOT EXISTS "redis_scores_board_score_idx" ON "public"."redis_scores" (board, score DESC, member DESC);

CREATE INDEX IF NOT EXISTS "redis_scores_expires_at_idx" ON "public"."redis_scores" (expires_at);

CREATE OR REPLACE VIEW "public"."redis_scores_live" AS
SELECT board, member, score, expires_at
FROM "public"."redis_scores"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE VIEW "public"."redis_scores_ranked" AS
SELECT board, member, score, expires_at,
       row_number() OVER (PARTITION BY board ORDER BY score DESC, member DESC) - 1 AS rank
FROM "public"."redis_scores"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE FUNCTION "public"."redis_scores_rank"(board text, member text)
RETURNS bigint
LANGUAGE sql
STABLE
AS $pgc$
SELECT (
    SELECT count(*)
    FROM "public"."redis_scores" AS o
    WHERE o.board = s.board
      AND (o.expires_at IS NULL OR o.expires_at > now())
      AND (o.score > s.score OR (o.score = s.score AND o.member > s.member))
)
FROM "public"."redis_scores" AS s
WHERE s.board = $1 AND s.member = $2 AND (s.expires_at IS NULL OR s.expires_at > now())
$pgc$;

CREATE OR REPLACE FUNCTION "public"."redis_scores_top"(board text, n bigint)
RETURNS TABLE (member text, score double precision)
LANGUAGE sql
STABLE
AS $pgc$
SELECT t.member, t.score
FROM "public"."redis_scores" AS t
WHERE t.board = $1 AND (t.expires_at IS NULL OR t.expires_at > now())
ORDER BY t.score DESC, t.member DESC
LIMIT greatest($2, 0)
$pgc$;

CREATE OR REPLACE FUNCTION "public"."redis_scores_incr"(board text, member text, by double precision DEFAULT 1)
RETURNS double precision
LANGUAGE sql
AS $pgc$
DELETE FROM "public"."redis_scores" AS d WHERE d.board = $1 AND d.expires_at <= now();
INSERT INTO "public"."redis_scores" AS t (board, member, score, expires_at)
VALUES ($1, $2, $3, (SELECT max(e.expires_at) FROM "public"."redis_scores" AS e WHERE e.board = $1))
ON CONFLICT (board, member) DO UPDATE
SET score = t.score + excluded.score
RETURNING score
$pgc$;

-- sweep:
DELETE FROM "public"."redis_scores" WHERE expires_at <= now();

-- variant: schedule: seconds scored_at, bytea key and members, pg_cron

CREATE TABLE IF NOT EXISTS "app"."redis_schedule" (
    board bytea NOT NULL,
    member bytea NOT NULL,
    score double precision NOT NULL CHECK (score <> 'NaN'::double precision),
    scored_at timestamptz GENERATED ALWAYS AS (to_timestamp(score)) STORED,
    expires_at timestamptz NULL,
    PRIMARY KEY (board, member)
);

CREATE INDEX IF NOT EXISTS "redis_schedule_board_score_idx" ON "app"."redis_schedule" (board, score DESC, member DESC);

CREATE INDEX IF NOT EXISTS "redis_schedule_board_scored_at_idx" ON "app"."redis_schedule" (board, scored_at);

CREATE INDEX IF NOT EXISTS "redis_schedule_expires_at_idx" ON "app"."redis_schedule" (expires_at);

CREATE OR REPLACE VIEW "app"."redis_schedule_live" AS
SELECT board, member, score, scored_at, expires_at
FROM "app"."redis_schedule"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE VIEW "app"."redis_schedule_ranked" AS
SELECT board, member, score, scored_at, expires_at,
       row_number() OVER (PARTITION BY board ORDER BY score DESC, member DESC) - 1 AS rank
FROM "app"."redis_schedule"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE FUNCTION "app"."redis_schedule_rank"(board bytea, member bytea)
RETURNS bigint
LANGUAGE sql
STABLE
AS $pgc$
SELECT (
    SELECT count(*)
    FROM "app"."redis_schedule" AS o
    WHERE o.board = s.board
      AND (o.expires_at IS NULL OR o.expires_at > now())
      AND (o.score > s.score OR (o.score = s.score AND o.member > s.member))
)
FROM "app"."redis_schedule" AS s
WHERE s.board = $1 AND s.member = $2 AND (s.expires_at IS NULL OR s.expires_at > now())
$pgc$;

CREATE OR REPLACE FUNCTION "app"."redis_schedule_top"(board bytea, n bigint)
RETURNS TABLE (member bytea, score double precision)
LANGUAGE sql
STABLE
AS $pgc$
SELECT t.member, t.score
FROM "app"."redis_schedule" AS t
WHERE t.board = $1 AND (t.expires_at IS NULL OR t.expires_at > now())
ORDER BY t.score DESC, t.member DESC
LIMIT greatest($2, 0)
$pgc$;

CREATE OR REPLACE FUNCTION "app"."redis_schedule_incr"(board bytea, member bytea, by double precision DEFAULT 1)
RETURNS double precision
LANGUAGE sql
AS $pgc$
DELETE FROM "app"."redis_schedule" AS d WHERE d.board = $1 AND d.expires_at <= now();
INSERT INTO "app"."redis_schedule" AS t (board, member, score, expires_at)
VALUES ($1, $2, $3, (SELECT max(e.expires_at) FROM "app"."redis_schedule" AS e WHERE e.board = $1))
ON CONFLICT (board, member) DO UPDATE
SET score = t.score + excluded.score
RETURNING score
$pgc$;

-- in pg_cron's database (cron.database_name):

CREATE EXTENSION IF NOT EXISTS pg_cron;

SELECT cron.schedule_in_database('pgconsolidate_cleanup_app_app_redis_schedule', '* * * * *', 'DELETE FROM "app"."redis_schedule" WHERE expires_at <= now()', 'app');

-- sweep:
DELETE FROM "app"."redis_schedule" WHERE expires_at <= now();

-- variant: delayed: milliseconds scored_at, sweep, name with $pgc$

CREATE TABLE IF NOT EXISTS "public"."z$pgc$x" (
    board text NOT NULL,
    member text COLLATE "C" NOT NULL,
    score double precision NOT NULL CHECK (score <> 'NaN'::double precision),
    scored_at timestamptz GENERATED ALWAYS AS (to_timestamp(score / 1000.0)) STORED,
    expires_at timestamptz NULL,
    PRIMARY KEY (board, member)
);

CREATE INDEX IF NOT EXISTS "z$pgc$x_board_score_idx" ON "public"."z$pgc$x" (board, score DESC, member DESC);

CREATE INDEX IF NOT EXISTS "z$pgc$x_board_scored_at_idx" ON "public"."z$pgc$x" (board, scored_at);

CREATE INDEX IF NOT EXISTS "z$pgc$x_expires_at_idx" ON "public"."z$pgc$x" (expires_at);

CREATE OR REPLACE VIEW "public"."z$pgc$x_live" AS
SELECT board, member, score, scored_at, expires_at
FROM "public"."z$pgc$x"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE VIEW "public"."z$pgc$x_ranked" AS
SELECT board, member, score, scored_at, expires_at,
       row_number() OVER (PARTITION BY board ORDER BY score DESC, member DESC) - 1 AS rank
FROM "public"."z$pgc$x"
WHERE expires_at IS NULL OR expires_at > now();

CREATE OR REPLACE FUNCTION "public"."z$pgc$x_rank"(board text, member text)
RETURNS bigint
LANGUAGE sql
STABLE
AS $pgc1$
SELECT (
    SELECT count(*)
    FROM "public"."z$pgc$x" AS o
    WHERE o.board = s.board
      AND (o.expires_at IS NULL OR o.expires_at > now())
      AND (o.score > s.score OR (o.score = s.score AND o.member > s.member))
)
FROM "public"."z$pgc$x" AS s
WHERE s.board = $1 AND s.member = $2 AND (s.expires_at IS NULL OR s.expires_at > now())
$pgc1$;

CREATE OR REPLACE FUNCTION "public"."z$pgc$x_top"(board text, n bigint)
RETURNS TABLE (member text, score double precision)
LANGUAGE sql
STABLE
AS $pgc1$
SELECT t.member, t.score
FROM "public"."z$pgc$x" AS t
WHERE t.board = $1 AND (t.expires_at IS NULL OR t.expires_at > now())
ORDER BY t.score DESC, t.member DESC
LIMIT greatest($2, 0)
$pgc1$;

CREATE OR REPLACE FUNCTION "public"."z$pgc$x_incr"(board text, member text, by double precision DEFAULT 1)
RETURNS double precision
LANGUAGE sql
AS $pgc1$
DELETE FROM "public"."z$pgc$x" AS d WHERE d.board = $1 AND d.expires_at <= now();
INSERT INTO "public"."z$pgc$x" AS t (board, member, score, expires_at)
VALUES ($1, $2, $3, (SELECT max(e.expires_at) FROM "public"."z$pgc$x" AS e WHERE e.board = $1))
ON CONFLICT (board, member) DO UPDATE
SET score = t.score + excluded.score
RETURNING score
$pgc1$;

-- sweep:
DELETE FROM "public"."z$pgc$x" WHERE expires_at <= now();
