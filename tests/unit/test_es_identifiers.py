"""ES field path -> PostgreSQL column name mapping (pure; the rules of pgconsolidate.es.identifiers)."""

from __future__ import annotations

import hashlib

import pytest

from pgconsolidate.es.identifiers import (
    MAX_IDENT_BYTES,
    RESERVED_KEYWORDS,
    column_name,
    column_names,
    fit,
    path_hash,
)

RESERVED = ("_id", "_extra", "search_vector")


@pytest.mark.parametrize(
    ("path", "column", "reason_part"),
    [
        ("title", "title", None),
        ("first_name", "first_name", None),
        ("author.name", "author__name", "dots"),
        ("Author", "author", "upper case"),
        ("@timestamp", "timestamp", "'@'"),
        ("select", "select_", "reserved word"),
        ("Order", "order_", "reserved word"),
        ("user", "user_", "reserved word"),
        ('say "hi"', "say__hi_", "characters other than"),
        ("price-eur", "price_eur", "characters other than"),
        ("9lives", "_9lives", "digit"),
        ("café", "café", None),
        ("_id", "_id_", "reserves"),
        ("search_vector", "search_vector_", "reserves"),
    ],
)
def test_column_name_rules(path: str, column: str, reason_part: str | None) -> None:
    got = column_name(path, RESERVED)
    assert got.column == column
    if reason_part is None:
        assert got.renamed_because is None
    else:
        assert got.renamed_because is not None and reason_part in got.renamed_because


def test_a_dot_and_an_underscore_do_not_collide() -> None:
    # '__' for dots keeps 'a.b_c' and 'a_b.c' apart (a single '_' would merge them).
    names = column_names(["a.b_c", "a_b.c"])
    assert names["a.b_c"].column == "a__b_c"
    assert names["a_b.c"].column == "a_b__c"


def test_long_names_are_cut_with_a_hash_of_the_path_and_stay_unique() -> None:
    a = "x" * 80 + ".alpha"
    b = "x" * 80 + ".beta"
    names = column_names([a, b])
    for path in (a, b):
        col = names[path].column
        assert len(col.encode("utf-8")) <= MAX_IDENT_BYTES
        assert col.endswith("_" + path_hash(path))
        assert "63 bytes" in (names[path].renamed_because or "")
    assert names[a].column != names[b].column


def test_multibyte_names_are_cut_on_a_character_boundary() -> None:
    path = "é" * 40  # 80 bytes
    col = column_name(path).column
    assert len(col.encode("utf-8")) <= MAX_IDENT_BYTES
    col.encode("utf-8").decode("utf-8")  # valid UTF-8: no half character
    assert col.startswith("é")


def test_collisions_get_a_hash_of_their_own_path() -> None:
    names = column_names(["author.name", "Author.Name"])
    expected = {p: "author__name_" + hashlib.sha256(p.encode()).hexdigest()[:6] for p in names}
    assert {p: n.column for p, n in names.items()} == expected
    assert "collides with 'Author.Name'" in (names["author.name"].renamed_because or "")


def test_a_path_that_needed_no_change_keeps_its_name_in_a_collision() -> None:
    names = column_names(["tags", "Tags", "TAGS"])
    assert names["tags"].column == "tags"
    assert names["tags"].renamed_because is None
    assert names["Tags"].column == "tags_" + path_hash("Tags")
    assert names["TAGS"].column == "tags_" + path_hash("TAGS")


def test_mapping_is_independent_of_field_order() -> None:
    paths = ["author.name", "Author.Name", "select", "Order", "tags", "Tags", "x" * 90]
    forward = column_names(paths, RESERVED)
    backward = column_names(list(reversed(paths)), RESERVED)
    assert forward == backward
    assert list(forward) == paths  # the result keeps the caller's order
    assert len({n.column for n in forward.values()}) == len(paths)


def test_every_column_is_distinct_and_never_a_reserved_table_column() -> None:
    paths = ["_id", "_ID", "_extra", "search_vector", "Search_Vector", "a", "A", "a_"]
    names = column_names(paths, RESERVED)
    columns = [n.column for n in names.values()]
    assert len(set(columns)) == len(columns)
    assert not set(columns) & set(RESERVED)


def test_fit_keeps_short_names_and_cuts_long_ones() -> None:
    assert fit("short", "salt") == "short"
    long = fit("y" * 70, "salt", "_view")
    assert len(long) <= MAX_IDENT_BYTES and long.endswith("_" + path_hash("salt") + "_view")


def test_reserved_keywords_contain_the_usual_suspects() -> None:
    assert {"select", "order", "user", "table", "group", "limit"} <= RESERVED_KEYWORDS
    assert "timestamp" not in RESERVED_KEYWORDS  # a non-reserved keyword: fine unquoted as a column
