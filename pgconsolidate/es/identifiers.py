"""Elasticsearch field paths -> PostgreSQL column names: one deterministic scheme, recorded in the plan.

Every column is quoted in the DDL we render, so any name would *work*; the mapping exists so that
the names are the ones a user types unquoted in ``psql`` and so that no two fields share a column.
The rules, applied in this order to the dotted ES path (``author.name``, ``title.raw``):

1. a leading ``@`` is dropped (``@timestamp`` -> ``timestamp``: the ECS convention, not part of the name);
2. each dot becomes ``__`` (``author.name`` -> ``author__name``): a double underscore, because a single
   one is common inside ES names (``first_name``) and would make ``a.b_c`` and ``a_b.c`` collide;
3. upper case is folded to lower case (PostgreSQL folds unquoted names, so ``Author`` would need quotes);
4. every character that is not a letter, digit or ``_`` becomes ``_`` (quotes, spaces, ``-``, ``$``, ...);
   a name starting with a digit gets a leading ``_``; an empty result becomes ``field``;
5. a PostgreSQL reserved keyword (``select``, ``order``, ``user``: :data:`RESERVED_KEYWORDS`, the
   server's ``pg_get_keywords()`` categories R and T) and a column name the table reserves for
   itself (``_id``, ``_extra``, the tsvector column) get a trailing ``_`` (``select`` -> ``select_``);
6. a name longer than 63 bytes (PostgreSQL would silently truncate it) is cut and ends with ``_`` +
   6 hex digits of the SHA-256 of the ES path;
7. collisions (two paths giving one name, e.g. ``author.name`` and ``Author.Name``): a path whose
   name needed no change keeps it; every other path of the group gets ``_`` + 6 hex digits of the
   SHA-256 of its own path. The outcome depends only on the set of paths, never on mapping order.

Pure functions, no I/O; :func:`column_names` is what the planner calls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

MAX_IDENT_BYTES = 63
"""NAMEDATALEN - 1: PostgreSQL truncates longer identifiers."""

PATH_SEPARATOR = "__"
"""What a dot of the ES path becomes."""

RESERVED_KEYWORDS: frozenset[str] = frozenset(
    {
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary",
        "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create",
        "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
        "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
        "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike",
        "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left",
        "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only",
        "or", "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
        "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then", "to",
        "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window",
        "with",
    }
)  # fmt: skip
"""PostgreSQL 18's reserved keywords (``SELECT word FROM pg_get_keywords() WHERE catcode IN ('R','T')``).

These cannot be used as unquoted column names; an integration test compares the list with the server's.
"""


class ColumnName(NamedTuple):
    """The column an ES path maps to, and why it differs from the path (None when it does not)."""

    column: str
    renamed_because: str | None


def path_hash(path: str) -> str:
    """6 hex digits of the SHA-256 of an ES path (the disambiguating suffix of rules 6 and 7)."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:6]


def fit(name: str, salt: str, suffix: str = "") -> str:
    """``name + suffix`` within 63 bytes; when longer, ``name`` is cut and ``_<hash of salt>`` appended."""
    if len((name + suffix).encode("utf-8")) <= MAX_IDENT_BYTES:
        return name + suffix
    tag = "_" + path_hash(salt) + suffix
    room = MAX_IDENT_BYTES - len(tag.encode("utf-8"))
    cut = name.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip("_")
    return cut + tag


def column_name(path: str, reserved: Iterable[str] = ()) -> ColumnName:
    """The column of one ES path by rules 1-6 (no collision handling; see :func:`column_names`)."""
    reasons: list[str] = []
    name = path
    if name.startswith("@"):
        name = name[1:]
        reasons.append("leading '@' dropped")
    if "." in name:
        name = name.replace(".", PATH_SEPARATOR)
        reasons.append("dots (object path) become '__'")
    if name != name.lower():
        name = name.lower()
        reasons.append("upper case folded to lower case")
    cleaned = "".join(ch if (ch.isalnum() or ch == "_") else "_" for ch in name)
    if cleaned != name:
        reasons.append("characters other than letters, digits and '_' become '_'")
        name = cleaned
    if not name:
        name = "field"
        reasons.append("empty name")
    elif name[0].isdigit():
        name = "_" + name
        reasons.append("starts with a digit")
    taken = {r.lower() for r in reserved}
    if name in RESERVED_KEYWORDS or name in taken:
        what = "a PostgreSQL reserved word" if name in RESERVED_KEYWORDS else "a column name the table reserves"
        name += "_"
        reasons.append(f"'{name[:-1]}' is {what}: '_' appended")
    if len(name.encode("utf-8")) > MAX_IDENT_BYTES:
        name = fit(name, path)
        reasons.append("longer than 63 bytes: cut, with a hash of the path")
    return ColumnName(name, "; ".join(reasons) or None)


def column_names(paths: Sequence[str], reserved: Iterable[str] = ()) -> dict[str, ColumnName]:
    """Columns for a whole mapping's paths (rules 1-7): ``path -> ColumnName``, every column distinct.

    ``reserved`` are column names the table uses itself (id, extra, tsvector): a path mapping to
    one of them gets ``_`` appended. PlanError-free: every input has an answer.
    """
    reserved_set = {r.lower() for r in reserved}
    first = {p: column_name(p, reserved_set) for p in dict.fromkeys(paths)}
    groups: dict[str, list[str]] = {}
    for p, cn in first.items():
        groups.setdefault(cn.column, []).append(p)
    out: dict[str, ColumnName] = {}
    taken = set(groups) | reserved_set
    for name, members in sorted(groups.items()):
        if len(members) == 1:
            out[members[0]] = first[members[0]]
            continue
        keeper = [p for p in members if p == name]  # at most one path equals its own column
        for p in sorted(members):
            if p in keeper:
                out[p] = first[p]
                continue
            others = ", ".join(repr(o) for o in sorted(members) if o != p)
            new = fit(name, p, "_" + path_hash(p))
            salt = p
            while new in taken:  # a suffixed name equal to another column: astronomically rare
                salt += "\x00"
                new = fit(name, salt, "_" + path_hash(salt))
            taken.add(new)
            why = first[p].renamed_because
            collision = f"collides with {others} after mapping: '_' + hash of the path appended"
            out[p] = ColumnName(new, f"{why}; {collision}" if why else collision)
    return {p: out[p] for p in first}
