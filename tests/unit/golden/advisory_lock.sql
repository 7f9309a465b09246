-- golden DDL for mapping advisory_lock (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: locks: helper functions

CREATE OR REPLACE FUNCTION "public"."redis_lock_try"(lock_name text)
RETURNS boolean
LANGUAGE sql
STRICT
AS $pgc$
SELECT pg_try_advisory_lock(hashtextextended($1, 0))
$pgc$;

CREATE OR REPLACE FUNCTION "public"."redis_lock_try_xact"(lock_name text)
RETURNS boolean
LANGUAGE sql
STRICT
AS $pgc$
SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))
$pgc$;

CREATE OR REPLACE FUNCTION "public"."redis_lock_release"(lock_name text)
RETURNS boolean
LANGUAGE sql
STRICT
AS $pgc$
SELECT pg_advisory_unlock(hashtextextended($1, 0))
$pgc$;

-- variant: locks: custom schema, name with a quote

CREATE OR REPLACE FUNCTION "app"."job ""lock""_try"(lock_name text)
RETURNS boolean
LANGUAGE sql
STRICT
AS $pgc$
SELECT pg_try_advisory_lock(hashtextextended($1, 0))
$pgc$;

CREATE OR REPLACE FUNCTION "app"."job ""lock""_try_xact"(lock_name text)
RETURNS boolean
LANGUAGE sql
STRICT
AS $pgc$
SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))
$pgc$;

CREATE OR REPLACE FUNCTION "app"."job ""lock""_release"(lock_name text)
RETURNS boolean
LANGUAGE sql
STRICT
AS $pgc$
SELECT pg_advisory_unlock(hashtextextended($1, 0))
$pgc$;
