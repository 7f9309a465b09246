"""pgconsolidate: move Redis and Elasticsearch workloads onto PostgreSQL 18."""

__version__ = "0.1.0"
