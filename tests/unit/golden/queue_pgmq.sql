-- golden DDL for mapping queue_pgmq (regenerate: PGCONSOLIDATE_UPDATE_GOLDEN=1)

-- variant: celery queue: json messages popped right, SQL-only pgmq install

-- pgconsolidate:install pgmq (runs the SQL-only install script of the pgmq PyPI package, ~2,200 lines; skipped when pgmq is already installed);

SELECT pgmq.create('celery');

-- variant: rq queue: text job ids popped left, pgmq extension

CREATE EXTENSION IF NOT EXISTS pgmq;

SELECT pgmq.create('rq_queue_default_626a3c');
