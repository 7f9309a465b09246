"""Elasticsearch Query DSL -> PostgreSQL SQL translation (pure: no connections).

:func:`translate` takes a ``_search`` body and a :class:`FieldMap` (where each Elasticsearch
field lives in the migrated table) and returns a :class:`Translation` - a pydantic model, so
``Translation.model_dump_json()`` is its JSON form. See ``docs/translate.md``.
"""

from pgconsolidate.translate.dsl import Translation, translate
from pgconsolidate.translate.fieldmap import FieldColumn, FieldMap

__all__ = ["FieldColumn", "FieldMap", "Translation", "translate"]
