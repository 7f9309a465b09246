"""pgconsolidate: move Redis and Elasticsearch workloads onto PostgreSQL 18."""

__version__ = "0.1.0"

# models_es imports Strict/Usage from models, and models resolves its Elasticsearch annotations by
# importing models_es at its end: loading models first, always, makes either import order work.
from pgconsolidate import models as _models  # noqa: F401
