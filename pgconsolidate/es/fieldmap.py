"""The translator's :class:`~pgconsolidate.translate.FieldMap` of an ``es_index`` plan item.

The plan item's ``target.options`` (:class:`~pgconsolidate.models_es.EsIndexOptions`) say where
every Elasticsearch field went: a column per :class:`~pgconsolidate.models_es.EsColumn`, the
sub-fields of ``nested`` fields inside their jsonb column (``json_fields``), the tsvector column
and its configuration, pg_trgm and BM25 indexes. ``verify`` (query parity) and the ``translate``
command build their field map here, so a query is translated against exactly the planned table.
"""

from __future__ import annotations

from pgconsolidate.errors import PlanError
from pgconsolidate.models import PlanItem
from pgconsolidate.models_es import EsIndexOptions, EsSource
from pgconsolidate.translate.fieldmap import FieldColumn, FieldMap

_WEIGHT_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}


def fieldmap_for(item: PlanItem) -> FieldMap:
    """The field map of a migrated ``es_index`` item; PlanError for any other item."""
    target = item.target
    if target is None or target.mapping != "es_index":
        raise PlanError(f"item {item.id}: not an es_index item (verdict {item.verdict}): no field map")
    opts = EsIndexOptions.model_validate(target.options)
    time_field = item.source.time_field if isinstance(item.source, EsSource) else None
    return fieldmap_from_options(target.schema_name, target.table, opts, time_field)


def fieldmap_from_options(schema: str, table: str, opts: EsIndexOptions, time_field: str | None) -> FieldMap:
    """The field map of a table planned with ``opts`` (what :func:`fieldmap_for` and the planner's alias views use)."""
    columns: dict[str, FieldColumn] = {}
    for c in opts.columns:
        pg_type = c.pg_type + "[]" if c.array and not c.pg_type.endswith("[]") else c.pg_type
        columns[c.field] = FieldColumn(
            es_field=c.field,
            column=c.column,
            es_type=c.es_type,
            pg_type=pg_type,
            vector_similarity=c.similarity if c.es_type == "dense_vector" else None,
        )
    json_columns = sorted(
        ((c.field, c.column) for c in opts.columns if c.pg_type == "jsonb"), key=lambda fc: -len(fc[0])
    )
    for path, es_type in opts.json_fields.items():
        # The innermost jsonb column whose path is a prefix (nested fields inside nested fields).
        for parent, column in json_columns:
            if path.startswith(parent + "."):
                columns[path] = FieldColumn(
                    es_field=path,
                    column=column,
                    es_type=es_type,
                    pg_type="jsonb",
                    jsonb_path=path[len(parent) + 1 :].split("."),
                )
                break
    text_fields = [
        c.field for c in sorted((c for c in opts.columns if c.weight), key=lambda c: _WEIGHT_ORDER[c.weight or "D"])
    ]
    time = next((c.field for c in opts.columns if c.column == opts.partition_column), None) or time_field
    return FieldMap(
        table_schema=schema,
        table=table,
        id_column=opts.id_column,
        columns=columns,
        tsvector_column=opts.tsvector_column,
        ts_config=opts.ts_config or "simple",
        text_fields=text_fields,
        has_trgm=any(c.index == "gin_trgm" for c in opts.columns),
        bm25=opts.bm25,
        time_field=time,
    )
