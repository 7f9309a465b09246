"""Analyze an Elasticsearch cluster: indices, mappings, analyzers, aliases, templates, time families.

:func:`sample_es` reads metadata only (no documents): ``_cat/indices``, index settings, mappings
and aliases (``GET <indices>``), ``_stats``, data streams and composable index templates, plus one
``size: 0`` search per chunk of indices for the *top-level* document counts (``_cat`` and
``_stats`` count nested documents as separate Lucene documents; a copy must compare against the
number of ``_source`` documents).

The pure parts are public and unit-tested on JSON fixtures:

* :func:`flatten_mapping` - a mapping to dotted-path :class:`EsField` leaves (multi-fields,
  ``nested`` paths, ``copy_to``, ``dynamic``, ``_source``, runtime fields);
* :func:`analyzer_fit` - an analyzer (built-in or custom) to the PostgreSQL text search
  configuration that matches it, and the gaps (what PostgreSQL needs extra, or cannot do);
* :func:`family_of` / :func:`group_families` - indices whose names differ only by a date suffix
  (``logs-2026.12.01``, ``logs-2026-12-01``, ``metrics-202612``, rollover ``-000001``) become one
  :class:`EsIndexFacts` with ``family=True``; data streams likewise;
* :func:`pick_time_field` - the time field of a log/time-series usage.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, ElasticsearchWarning, NotFoundError

from pgconsolidate.config import redact_url, url_password
from pgconsolidate.models import Usage as _Usage  # noqa: F401  (models first: models_es imports it, circularly)
from pgconsolidate.models_es import (
    EsAlias,
    EsAnalyzer,
    EsField,
    EsIndexFacts,
    EsIndexReport,
    EsInventory,
    EsServerInfo,
    EsTemplate,
)
from pgconsolidate.progress import NullProgress, ProgressSink

# --------------------------------------------------------------------------- PostgreSQL text search

PG_TS_CONFIGS: frozenset[str] = frozenset(
    {
        "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english", "estonian", "finnish",
        "french", "german", "greek", "hindi", "hungarian", "indonesian", "irish", "italian", "lithuanian",
        "nepali", "norwegian", "portuguese", "romanian", "russian", "serbian", "simple", "spanish", "swedish",
        "tamil", "turkish", "yiddish",
    }
)  # fmt: skip
"""Text search configurations PostgreSQL 18 ships (``SELECT cfgname FROM pg_ts_config``)."""

# Elasticsearch language analyzers (and stemmer/snowball languages) -> a PostgreSQL language.
# Names PostgreSQL has no stemmer for map to None (a gap: 'simple' is the fallback).
_LANGUAGE_ALIASES: dict[str, str | None] = {
    "brazilian": "portuguese",
    "porter": "english",
    "porter2": "english",
    "lovins": "english",
    "kstem": "english",
    "german2": "german",
    "dutch_kp": "dutch",
    "kp": "dutch",
    "portuguese_rslp": "portuguese",
    "spanish_plural": "spanish",
    "nynorsk": "norwegian",
    "bengali": None,
    "bulgarian": None,
    "cjk": None,
    "czech": None,
    "galician": None,
    "latvian": None,
    "persian": None,
    "sorani": None,
    "thai": None,
    "polish": None,
    "ukrainian": None,
}
_LANGUAGE_PREFIXES = ("light_", "minimal_", "possessive_")

# Built-in analyzers that are *not* language analyzers.
_PLAIN_ANALYZERS = frozenset({"standard", "simple", "whitespace", "stop", "keyword", "pattern", "fingerprint"})

# Tokenizers close enough to PostgreSQL's default parser (words split on non-letters).
_PARSER_LIKE_TOKENIZERS = frozenset({"standard", "classic", "letter", "lowercase", "uax_url_email"})
_NGRAM_TYPES = frozenset({"ngram", "edge_ngram", "nGram", "edgeNGram"})

# Token filters that change nothing PostgreSQL would do differently enough to matter.
_HARMLESS_FILTERS = frozenset(
    {
        "trim", "unique", "remove_duplicates", "truncate", "limit", "apostrophe", "elision", "classic",
        "decimal_digit", "length", "flatten_graph", "arabic_normalization", "german_normalization",
        "hindi_normalization", "indic_normalization", "persian_normalization", "scandinavian_normalization",
        "scandinavian_folding", "serbian_normalization", "sorani_normalization", "bengali_normalization",
        "cjk_width",
    }
)  # fmt: skip
# Token filters PostgreSQL has no mechanism for at all (keep reasons when an index depends on them).
_NO_EQUIVALENT_FILTERS = frozenset(
    {
        "phonetic", "hunspell", "dictionary_decompounder", "hyphenation_decompounder", "cjk_bigram",
        "keyword_marker", "keyword_repeat", "stemmer_override", "pattern_capture", "predicate_token_filter",
        "condition", "multiplexer", "script", "delimited_payload", "icu_transform", "min_hash", "fingerprint",
        "common_grams", "word_delimiter", "word_delimiter_graph", "kuromoji_baseform", "kuromoji_part_of_speech",
        "kuromoji_readingform", "kuromoji_stemmer", "nori_part_of_speech", "nori_readingform", "smartcn_stop",
        "uppercase",
    }
)  # fmt: skip


def _pg_language(es_language: str | None) -> tuple[str | None, str | None]:
    """(normalized language name, PostgreSQL config or None) for an ES language/stemmer name."""
    if not es_language:
        return None, None
    lang = es_language.strip().lower().strip("_")
    for prefix in _LANGUAGE_PREFIXES:
        if lang.startswith(prefix):
            lang = lang[len(prefix) :]
    if lang in _LANGUAGE_ALIASES:
        mapped = _LANGUAGE_ALIASES[lang]
        return (mapped or lang), mapped
    if lang in PG_TS_CONFIGS and lang != "simple":
        return lang, lang
    return lang, None


def _analysis(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    """``settings.index.analysis`` (nested, as ``GET <index>`` returns it) or ``settings.analysis``."""
    index = settings.get("index")
    analysis = index.get("analysis") if isinstance(index, Mapping) else settings.get("analysis")
    return analysis if isinstance(analysis, Mapping) else {}


@dataclass
class _Fit:
    """Accumulates what an analyzer chain needs (a mutable scratchpad for :func:`analyzer_fit`)."""

    language: str | None = None
    ts_language: str | None = None
    stop_language: str | None = None
    lowercase: bool = False
    full_text: bool = True
    partial: bool = False
    gaps: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)

    def gap(self, text: str, *, blocking: bool = False) -> None:
        if text not in self.gaps:
            self.gaps.append(text)
        if blocking and text not in self.blocking:
            self.blocking.append(text)


def _label(kind: str, name: str) -> str:
    """``'synonym_graph'`` or ``'synonym_graph my_syn'`` (the custom name, when it differs)."""
    return kind if name == kind else f"{kind} {name}"


def _stopwords_gap(fit: _Fit, label: str, stopwords: Any) -> None:
    """Stop words: a language list (``_english_``) names a language; a custom list needs a file."""
    if stopwords is None or stopwords == "_none_":
        return
    if isinstance(stopwords, str) and stopwords.startswith("_") and stopwords.endswith("_"):
        lang, _ = _pg_language(stopwords)
        fit.stop_language = fit.stop_language or lang
        return
    count = len(stopwords) if isinstance(stopwords, list) else 1
    fit.gap(
        f"{label}: custom stop words ({count}): needs a stop-word file in $SHAREDIR/tsearch_data (a custom dictionary)"
    )


def _apply_language(fit: _Fit, label: str, es_language: str | None) -> None:
    lang, config = _pg_language(es_language)
    if lang is None:
        return
    fit.language = fit.language or lang
    if config is not None:
        fit.ts_language = fit.ts_language or config
    else:
        fit.gap(
            f"{label}: PostgreSQL ships no {lang} text search configuration ('simple' does no stemming)", blocking=True
        )


def _apply_filter(fit: _Fit, name: str, analysis: Mapping[str, Any]) -> None:
    """One token filter of a custom chain."""
    definition = (analysis.get("filter") or {}).get(name)
    params: Mapping[str, Any] = definition if isinstance(definition, Mapping) else {}
    kind = str(params.get("type") or name)
    label = _label(kind, name)
    if kind == "lowercase":
        fit.lowercase = True
    elif kind in ("asciifolding", "icu_folding"):
        fit.gap(f"{label}: needs the unaccent extension (a custom text search configuration)")
    elif kind in ("synonym", "synonym_graph"):
        fit.gap(f"synonyms ({label}): needs a thesaurus/synonym dictionary file on the server")
    elif kind in _NGRAM_TYPES:
        fit.partial = True
        fit.gap(f"{label}: fuzzy/partial matching: pg_trgm index")
    elif kind == "reverse":
        fit.partial = True
        fit.gap(f"{label}: suffix matching: pg_trgm index")
    elif kind == "stop":
        _stopwords_gap(fit, label, params.get("stopwords", "_english_"))
    elif kind in ("stemmer", "snowball"):
        default = "english" if kind == "stemmer" else "English"
        _apply_language(fit, label, str(params.get("language") or params.get("name") or default))
    elif kind in ("porter_stem", "kstem"):
        _apply_language(fit, label, "english")
    elif kind.endswith("_stem") and kind != "porter_stem":  # e.g. german_stem, arabic_stem
        _apply_language(fit, label, kind[: -len("_stem")])
    elif kind == "shingle":
        fit.gap(f"{label}: word n-grams for phrase scoring (PostgreSQL phrase search with <-> covers matching only)")
    elif kind in _HARMLESS_FILTERS:
        pass
    elif kind in _NO_EQUIVALENT_FILTERS or kind.startswith(("icu_", "kuromoji_", "nori_")):
        fit.gap(f"{label}: no PostgreSQL text search equivalent", blocking=True)
    else:
        fit.gap(f"{label}: unknown token filter, no known PostgreSQL equivalent", blocking=True)


def _apply_tokenizer(fit: _Fit, name: str, analysis: Mapping[str, Any]) -> None:
    definition = (analysis.get("tokenizer") or {}).get(name)
    params: Mapping[str, Any] = definition if isinstance(definition, Mapping) else {}
    kind = str(params.get("type") or name)
    label = _label(kind, name)
    if kind in _PARSER_LIKE_TOKENIZERS:
        fit.lowercase = fit.lowercase or kind == "lowercase"
    elif kind == "whitespace":
        fit.gap(f"tokenizer {label}: splits on whitespace only (PostgreSQL's parser also splits on punctuation)")
    elif kind == "keyword":
        fit.full_text = False
    elif kind in _NGRAM_TYPES:
        fit.partial = True
        fit.gap(f"tokenizer {label}: fuzzy/partial matching: pg_trgm index")
    else:
        fit.gap(f"tokenizer {label}: custom tokenizer, PostgreSQL's parser has no equivalent", blocking=True)


def _builtin_fit(fit: _Fit, kind: str, params: Mapping[str, Any]) -> None:
    """A built-in analyzer (``standard``, ``english``, ...), possibly parameterised in settings."""
    label = kind
    if kind in ("standard", "simple"):
        fit.lowercase = True
        _stopwords_gap(fit, label, params.get("stopwords"))
        if fit.stop_language:
            fit.gap(
                f"{label}: stop words _{fit.stop_language}_ are removed in Elasticsearch; 'simple' keeps them "
                "(harmless for matching, changes ranking slightly)"
            )
    elif kind == "whitespace":
        fit.gap(
            "whitespace: case-sensitive and splits on whitespace only; 'simple' lowercases and splits on punctuation"
        )
    elif kind == "stop":
        fit.lowercase = True
        fit.gap("stop: English stop words are removed in Elasticsearch; 'simple' keeps them (no stemming either way)")
    elif kind == "keyword":
        fit.full_text = False
    elif kind == "pattern":
        fit.lowercase = bool(params.get("lowercase", True))
        if params.get("pattern") not in (None, r"\W+"):
            fit.gap(
                f"pattern analyzer: custom pattern {params.get('pattern')!r} has no parser equivalent", blocking=True
            )
    elif kind == "fingerprint":
        fit.full_text = False
        fit.gap("fingerprint analyzer: no PostgreSQL text search equivalent", blocking=True)
    else:
        lang, config = _pg_language(kind)
        if config is not None or (lang in _LANGUAGE_ALIASES):
            fit.lowercase = True
            _apply_language(fit, label, kind)
            if kind == "brazilian":
                fit.gap("brazilian: approximated by PostgreSQL's 'portuguese' configuration")
            if params.get("stem_exclusion"):
                fit.gap(f"{label}: stem_exclusion words: no equivalent (PostgreSQL stems every word)", blocking=True)
            stop = params.get("stopwords")
            if stop is not None and not (isinstance(stop, str) and stop.startswith("_")):
                _stopwords_gap(fit, label, stop)
        else:
            fit.gap(f"analyzer {kind} (plugin or unknown): no PostgreSQL text search equivalent", blocking=True)


def analyzer_fit(analyzer: str, settings: Mapping[str, Any] | None = None) -> EsAnalyzer:
    """The PostgreSQL fit of analyzer ``analyzer`` as the index ``settings`` define it (pure).

    ``settings`` is the index's settings as ``GET <index>`` returns them (``{"index": {"analysis":
    ...}}``) or just ``{"analysis": ...}``; None for a built-in analyzer. ``ts_config`` is the
    matching PostgreSQL text search configuration (None for ``keyword``-like analyzers: exact
    values, a btree not a tsvector); ``gaps`` list what PostgreSQL needs extra or cannot do;
    ``no_equivalent`` the gaps with no PostgreSQL mechanism at all; ``partial_match`` the
    ngram/edge_ngram intent (a pg_trgm index).
    """
    analysis = _analysis(settings or {})
    definition = (analysis.get("analyzer") or {}).get(analyzer)
    params: Mapping[str, Any] = definition if isinstance(definition, Mapping) else {}
    kind = str(params.get("type") or ("custom" if params.get("tokenizer") else analyzer))
    fit = _Fit()
    tokenizer: str | None = None
    filters: list[str] = []
    char_filters: list[str] = []
    if kind == "custom":
        tokenizer = str(params.get("tokenizer") or "standard")
        filters = _as_list(params.get("filter"))
        char_filters = _as_list(params.get("char_filter"))
        _apply_tokenizer(fit, tokenizer, analysis)
        for name in char_filters:
            cdef = (analysis.get("char_filter") or {}).get(name)
            ckind = str(cdef.get("type") or name) if isinstance(cdef, Mapping) else name
            clabel = _label(ckind, name)
            if ckind == "html_strip":
                pass  # the default parser tokenizes HTML tags as 'tag' tokens, which no configuration indexes
            elif ckind in ("mapping", "pattern_replace"):
                fit.gap(f"char_filter {clabel}: rewrite as translate()/regexp_replace() in the tsvector expression")
            else:
                fit.gap(f"char_filter {clabel}: no PostgreSQL equivalent", blocking=True)
        for name in filters:
            _apply_filter(fit, name, analysis)
        if fit.full_text and not fit.lowercase and tokenizer not in ("keyword",):
            fit.gap("no lowercase filter: Elasticsearch matches case-sensitively; PostgreSQL configurations lowercase")
        if fit.stop_language and not fit.ts_language:
            _, config = _pg_language(fit.stop_language)
            fit.gap(
                f"stop words _{fit.stop_language}_ without stemming: 'simple' keeps stop words"
                + (f" (the '{config}' configuration would also stem)" if config else "")
            )
    else:
        _builtin_fit(fit, kind, params)
    ts_config: str | None
    if not fit.full_text:
        ts_config = None
        if not fit.partial:
            fit.gap(f"{analyzer}: the whole value is one token (exact matching: a btree index, not a tsvector)")
    else:
        ts_config = fit.ts_language or "simple"
    return EsAnalyzer(
        name=analyzer,
        type=kind,
        tokenizer=tokenizer,
        filters=filters,
        char_filters=char_filters,
        language=fit.language or fit.stop_language,
        ts_config=ts_config,
        gaps=fit.gaps,
        no_equivalent=fit.blocking,
        partial_match=fit.partial,
    )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


# --------------------------------------------------------------------------- mappings

_TEXT_TYPES = frozenset({"text", "match_only_text", "search_as_you_type", "annotated_text"})
DATE_TYPES = frozenset({"date", "date_nanos"})
_TIME_FIELD_NAMES = ("@timestamp", "timestamp", "event.created", "created_at", "createdAt", "time", "ts", "date")


@dataclass
class MappingInfo:
    """Root-level facts of a mapping besides its fields."""

    dynamic: str | None = None
    source_enabled: bool = True
    source_excludes: list[str] | None = None
    runtime_fields: dict[str, str] | None = None


def flatten_mapping(mappings: Mapping[str, Any]) -> tuple[list[EsField], MappingInfo]:
    """A mapping (``{"properties": ...}``) as dotted-path leaves, in mapping order (pure).

    Objects become dotted paths; ``nested`` objects are a field of type ``nested`` themselves and
    their children carry ``nested_path``; multi-fields are ``<parent>.<name>`` with
    ``multi_field_of``; an object with ``enabled: false`` is one opaque ``object`` leaf with
    ``index=False``.
    """
    fields: list[EsField] = []

    def walk(props: Mapping[str, Any], prefix: str, nested: str | None) -> None:
        for name, spec in props.items():
            if not isinstance(spec, Mapping):
                continue
            path = f"{prefix}{name}"
            ftype = spec.get("type")
            if ftype is None or ftype == "object":
                if spec.get("enabled") is False:
                    fields.append(EsField(path=path, type="object", nested_path=nested, index=False))
                elif "properties" in spec:
                    walk(spec["properties"], f"{path}.", nested)
                else:  # an object mapped with no sub-fields yet
                    fields.append(EsField(path=path, type="object", nested_path=nested))
                continue
            if ftype == "nested":
                fields.append(EsField(path=path, type="nested", nested_path=nested))
                walk(spec.get("properties") or {}, f"{path}.", path)
                continue
            fields.append(_leaf(path, str(ftype), spec, nested, None))
            for sub, sub_spec in (spec.get("fields") or {}).items():
                if isinstance(sub_spec, Mapping):
                    fields.append(_leaf(f"{path}.{sub}", str(sub_spec.get("type", "keyword")), sub_spec, nested, path))

    walk(mappings.get("properties") or {}, "", None)
    source = mappings.get("_source") or {}
    dynamic = mappings.get("dynamic")
    info = MappingInfo(
        dynamic=None if dynamic is None else str(dynamic).lower(),
        source_enabled=source.get("enabled", True) not in (False, "false"),
        source_excludes=[str(x) for x in source.get("excludes") or []],
        runtime_fields={
            str(k): str((v or {}).get("type", "keyword")) for k, v in (mappings.get("runtime") or {}).items()
        },
    )
    return fields, info


def _leaf(path: str, ftype: str, spec: Mapping[str, Any], nested: str | None, parent: str | None) -> EsField:
    copy_to = spec.get("copy_to")
    return EsField(
        path=path,
        type=ftype,
        multi_field_of=parent,
        nested_path=nested,
        analyzer=spec.get("analyzer"),
        search_analyzer=spec.get("search_analyzer"),
        normalizer=spec.get("normalizer"),
        copy_to=_as_list(copy_to),
        index=spec.get("index", True) not in (False, "false"),
        doc_values=spec.get("doc_values"),
        format=spec.get("format"),
        ignore_above=spec.get("ignore_above"),
        dims=spec.get("dims"),
        similarity=spec.get("similarity") or ("cosine" if ftype == "dense_vector" else None),
        element_type=spec.get("element_type") or ("float" if ftype == "dense_vector" else None),
    )


def text_analyzers(fields: Iterable[EsField], settings: Mapping[str, Any]) -> list[str]:
    """Analyzer names the text fields use (index and search side), the index default when unset."""
    analysis = _analysis(settings)
    default = "default" if "default" in (analysis.get("analyzer") or {}) else "standard"
    names: list[str] = []
    for f in fields:
        if f.type in _TEXT_TYPES:
            for name in (f.analyzer or default, f.search_analyzer):
                if name and name not in names:
                    names.append(name)
    return names


def pick_time_field(fields: Sequence[EsField]) -> str | None:
    """The time field: a date field with a conventional name (``@timestamp``, ...), else the only one."""
    dates = [f.path for f in fields if f.type in DATE_TYPES and f.multi_field_of is None and f.nested_path is None]
    for name in _TIME_FIELD_NAMES:
        if name in dates:
            return name
    lowered = {d.lower(): d for d in dates}
    for name in _TIME_FIELD_NAMES:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return dates[0] if len(dates) == 1 else None


# --------------------------------------------------------------------------- families

Period = Literal["hour", "day", "month", "year", "rollover"]
_BASE = r"^(?P<base>.+?[-_.])"
_ROLL = r"(?P<roll>-\d{6})?$"
_Y, _M, _D, _H = r"(?P<y>\d{4})", r"(?P<m>\d{2})", r"(?P<d>\d{2})", r"(?P<h>\d{2})"
# Most specific first; a day suffix uses one separator throughout (2026.12.01, 2026-12-01, 20261201).
_SUFFIXES: tuple[tuple[re.Pattern[str], Period], ...] = (
    (re.compile(rf"{_BASE}(?P<date>{_Y}[-_.]?{_M}[-_.]?{_D}[-_.T]?{_H}){_ROLL}"), "hour"),
    (re.compile(rf"{_BASE}(?P<date>{_Y}(?P<s>[-_.]?){_M}(?P=s){_D}){_ROLL}"), "day"),
    (re.compile(rf"{_BASE}(?P<date>{_Y}[-_.]?{_M}){_ROLL}"), "month"),
    (re.compile(rf"{_BASE}(?P<date>{_Y}){_ROLL}"), "year"),
    (re.compile(r"^(?P<base>.+?-)(?P<roll>\d{6})$"), "rollover"),
)


def _valid_date(m: re.Match[str]) -> bool:
    """Reject digit runs that only look like dates (month 13, hour 25, year 0042)."""
    groups = m.groupdict()
    y, mo, d, h = (groups.get(k) for k in ("y", "m", "d", "h"))
    if y is not None and not 1970 <= int(y) <= 2199:
        return False
    if mo is not None and not 1 <= int(mo) <= 12:
        return False
    if d is not None and not 1 <= int(d) <= 31:
        return False
    return h is None or 0 <= int(h) <= 23


def family_of(index: str) -> tuple[str, Period, str] | None:
    """``logs-2026.12.01`` -> (``'logs-{date}'``, ``'day'``, shape key); None when no date/rollover suffix.

    The shape key (base + digit shape) keeps ``logs-2026.12.01`` and ``logs-2026-12`` apart.
    """
    for regex, period in _SUFFIXES:
        m = regex.match(index)
        if m is None or (period != "rollover" and not _valid_date(m)):
            continue
        base = m["base"]
        if period == "rollover":
            return f"{base}{{n}}", period, f"{base}|n6"
        roll = "-{n}" if m["roll"] else ""
        shape = re.sub(r"\d", "9", m["date"]) + ("-999999" if m["roll"] else "")
        return f"{base}{{date}}{roll}", period, f"{base}|{shape}"
    return None


def group_families(indices: Iterable[str], *, min_members: int = 2) -> dict[str, tuple[str, Period, list[str]]]:
    """Group date-suffixed / rollover indices: shape key -> (pattern, period, sorted members).

    Only groups of at least ``min_members`` indices are families (one ``release-2024`` index is
    just an index). Pattern names are unique (a second format of the same base gets a suffix).
    """
    groups: dict[str, tuple[str, Period, list[str]]] = {}
    for name in sorted(indices):
        fam = family_of(name)
        if fam is None:
            continue
        pattern, period, key = fam
        groups.setdefault(key, (pattern, period, []))[2].append(name)
    out = {k: v for k, v in groups.items() if len(v[2]) >= min_members}
    seen: Counter[str] = Counter()
    for key in sorted(out, key=lambda k: (-len(out[k][2]), k)):  # the biggest group keeps the plain name
        pattern, period, members = out[key]
        seen[pattern] += 1
        if seen[pattern] > 1:
            by_period = f"{pattern} ({period})"
            seen[by_period] += 1
            suffix = period if seen[by_period] == 1 else key.split("|", 1)[1]
            out[key] = (f"{pattern} ({suffix})", period, members)
    return out


def merge_fields(per_index: Sequence[Sequence[EsField]]) -> tuple[list[EsField], list[str]]:
    """Union of the members' fields by path (first-seen order); conflicting types -> one line each.

    The most common type wins (ties: the newest member's, i.e. the last one given).
    """
    by_path: dict[str, list[EsField]] = {}
    for fields in per_index:
        for f in fields:
            by_path.setdefault(f.path, []).append(f)
    merged: list[EsField] = []
    conflicts: list[str] = []
    for path, variants in by_path.items():
        types = Counter(v.type for v in variants)
        if len(types) == 1:
            merged.append(variants[-1])
            continue
        best = max(types.items(), key=lambda kv: (kv[1], max(i for i, v in enumerate(variants) if v.type == kv[0])))[0]
        merged.append(next(v for v in reversed(variants) if v.type == best))
        conflicts.append(
            f"{path}: " + ", ".join(f"{t} ({n} index{'es' if n > 1 else ''})" for t, n in types.most_common())
        )
    return merged, conflicts


# --------------------------------------------------------------------------- live cluster


@dataclass
class _IndexMeta:
    """What the cluster says about one concrete index."""

    name: str
    fields: list[EsField]
    info: MappingInfo
    settings: Mapping[str, Any]
    aliases: dict[str, Mapping[str, Any]]
    docs: int = 0
    store: int = 0
    shards: int = 1
    replicas: int = 0
    search: dict[str, int] | None = None


def es_fingerprint(url: str, info: EsServerInfo) -> str:
    """Short sha256 of host:port, the cluster uuid and the major.minor version (stable across data changes)."""
    parts = urlsplit(url)
    location = f"{parts.hostname or 'localhost'}:{parts.port or 9200}{parts.path.rstrip('/')}"
    major_minor = ".".join(info.version.split(".")[:2])
    return hashlib.sha256(f"elasticsearch|{location}|{info.cluster_uuid}|{major_minor}".encode()).hexdigest()[:16]


def _chunks(names: Sequence[str], size: int = 100) -> Iterator[list[str]]:
    """Index names in URL-sized chunks (a few thousand daily indices must not make a 100 KB URL)."""
    for i in range(0, len(names), size):
        yield list(names[i : i + size])


def _index_setting(settings: Mapping[str, Any], *path: str) -> Any:
    node: Any = settings.get("index", {})
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def sample_es(
    client: Elasticsearch,
    url: str,
    *,
    indices: str = "*",
    include_hidden: bool = False,
    progress: ProgressSink | None = None,
) -> EsInventory:
    """Read the cluster's metadata and classify every index (or family / data stream) with evidence.

    Hidden and ``.``-prefixed (system) indices are skipped and listed in ``skipped`` unless
    ``include_hidden``; backing indices of a visible data stream are analyzed as that stream.
    Closed indices are listed in ``skipped`` (their documents cannot be read). ``indices`` narrows
    the analysis to an index pattern (comma-separated, wildcards as Elasticsearch expands them). Errors from the
    cluster become ConnectionFailed/SourceError with the URL redacted.
    """
    from pgconsolidate.es.classify import classify_index
    from pgconsolidate.es.client import server_info, source_error

    sink = progress or NullProgress()
    shown = redact_url(url)
    info = server_info(client)
    with warnings.catch_warnings():
        # Deprecation/system-index warnings are the cluster's business, not this report's.
        warnings.simplefilter("ignore", ElasticsearchWarning)
        try:
            return _sample(client, url, shown, info, indices, include_hidden, sink, classify_index)
        except (ApiError, TransportError) as exc:
            raise source_error(exc, shown, "reading index metadata", url_password(url)) from None


@dataclass
class _Stream:
    """A data stream: its backing indices (oldest first), time field, and template when known."""

    name: str
    indices: list[str]
    timestamp_field: str | None = None
    hidden: bool = False
    template: str | None = None


def _data_streams(client: Elasticsearch, pattern: str, resolved: Mapping[str, Any]) -> list[_Stream]:
    """Data streams from ``_resolve/index``, enriched by the data stream API where the server has it.

    Minimal builds (the integ-test distribution) create data streams but lack ``GET _data_stream``.
    """
    streams = {
        str(ds["name"]): _Stream(
            name=str(ds["name"]),
            indices=[str(i) for i in ds.get("backing_indices") or []],
            timestamp_field=ds.get("timestamp_field"),
        )
        for ds in resolved.get("data_streams") or []
    }
    if not streams:
        return []
    try:
        body = client.indices.get_data_stream(name=pattern, expand_wildcards="all").body
    except ApiError:  # no handler (400/404/405) on minimal builds: _resolve/index had the essentials
        body = {}
    for ds in body.get("data_streams") or []:
        st = streams.get(str(ds.get("name")))
        if st is not None:
            st.hidden = bool(ds.get("hidden") or ds.get("system"))
            st.template = ds.get("template")
            st.timestamp_field = (ds.get("timestamp_field") or {}).get("name") or st.timestamp_field
    return sorted(streams.values(), key=lambda d: d.name)


def _sample(
    client: Elasticsearch,
    url: str,
    shown: str,
    info: EsServerInfo,
    pattern: str,
    include_hidden: bool,
    sink: ProgressSink,
    classify: Any,
) -> EsInventory:
    # _resolve/index (7.9+) lists indices with their hidden/closed attributes, aliases and data
    # streams with backing indices in one call.
    # Raw GET: elasticsearch-py 9.5 sends POST here, which servers before 9.3 answer with 405.
    resolved = client.perform_request(
        "GET",
        f"/_resolve/index/{quote(pattern, safe='*,')}",
        params={"expand_wildcards": "all"},
        headers={"accept": "application/json"},
    ).body
    rows = [r for r in resolved.get("indices") or [] if isinstance(r, Mapping)]
    names = sorted(str(r["name"]) for r in rows)
    attrs = {str(r["name"]): set(r.get("attributes") or []) for r in rows}
    hidden = {n for n, a in attrs.items() if "hidden" in a or "system" in a}
    closed = {n for n, a in attrs.items() if "closed" in a}
    streams = _data_streams(client, pattern, resolved)
    backing: dict[str, str] = {}
    for ds in streams:
        if include_hidden or not (ds.hidden or ds.name.startswith(".")):
            backing.update(dict.fromkeys(ds.indices, ds.name))

    skipped: list[str] = []
    analyzed: list[str] = []
    for name in names:
        if name in closed:
            skipped.append(f"{name} (closed)")
        elif name in backing:
            analyzed.append(name)
        elif not include_hidden and (name.startswith(".") or name in hidden):
            skipped.append(name)
        else:
            analyzed.append(name)

    sink.start("es:indices", len(analyzed))
    metas: dict[str, _IndexMeta] = {}
    for chunk in _chunks(analyzed):
        target = ",".join(chunk)
        # ignore_unavailable: an index deleted since the listing is dropped, not an error
        got = client.indices.get(index=target, expand_wildcards="all", ignore_unavailable=True).body
        if not got:
            sink.advance("es:indices", len(chunk))
            continue
        present = ",".join(got)
        try:
            stats = client.indices.stats(
                index=present, metric=["docs", "store", "search", "indexing"], expand_wildcards="all"
            ).body.get("indices", {})
        except NotFoundError:  # deleted in between (stats has no ignore_unavailable): sizes unknown
            stats = {}
        counts = _top_level_counts(client, list(got))
        for name in chunk:
            sink.advance("es:indices", 1)
            body = got.get(name)
            if body is None:
                continue
            settings = body.get("settings") or {}
            fields, minfo = flatten_mapping(body.get("mappings") or {})
            st = stats.get(name) or {}
            prim = st.get("primaries") or {}
            total = st.get("total") or {}
            search = total.get("search") or {}
            metas[name] = _IndexMeta(
                name=name,
                fields=fields,
                info=minfo,
                settings=settings,
                aliases=dict(body.get("aliases") or {}),
                docs=counts.get(name, 0),
                store=int((prim.get("store") or {}).get("size_in_bytes") or 0),
                shards=int(_index_setting(settings, "number_of_shards") or 1),
                replicas=int(_index_setting(settings, "number_of_replicas") or 0),
                search={
                    "query_total": int(search.get("query_total") or 0),
                    "fetch_total": int(search.get("fetch_total") or 0),
                    "scroll_total": int(search.get("scroll_total") or 0),
                    "suggest_total": int(search.get("suggest_total") or 0),
                    "index_total": int((prim.get("indexing") or {}).get("index_total") or 0),
                },
            )
    sink.finish("es:indices")

    templates = _templates(client, include_hidden)
    alias_members: dict[str, list[str]] = {}
    for meta in metas.values():
        for alias in meta.aliases:
            alias_members.setdefault(alias, []).append(meta.name)

    # Groups: data streams, then date-suffixed families, then single indices.
    groups: list[tuple[str, list[str], bool, str | None, Period | None, str | None]] = []
    taken: set[str] = set()
    for ds in streams:
        members = [i for i in ds.indices if i in metas]
        if members:
            groups.append((ds.name, members, True, ds.name, "rollover", ds.timestamp_field))
            taken.update(members)
    for _key, (fam_pattern, fam_period, members) in sorted(
        group_families([n for n in metas if n not in taken]).items(), key=lambda kv: kv[1][0]
    ):
        groups.append((fam_pattern, members, True, None, fam_period, None))
        taken.update(members)
    for name in sorted(n for n in metas if n not in taken):
        groups.append((name, [name], False, None, None, None))

    reports: list[EsIndexReport] = []
    for name, members, family, stream, period, ts_field in groups:
        facts = _facts(name, [metas[m] for m in members], family, stream, period, ts_field, hidden, alias_members)
        stream_tpl = next((ds.template for ds in streams if ds.name == stream), None)
        facts.template = stream_tpl or match_template(stream or members[0], templates)
        reports.append(EsIndexReport(facts=facts, usage=classify(facts)))
    return EsInventory(
        url=shown,
        fingerprint=es_fingerprint(url, info),
        server=info,
        indices=reports,
        templates=templates,
        skipped=skipped,
    )


def _top_level_counts(client: Elasticsearch, chunk: Sequence[str]) -> dict[str, int]:
    """Top-level (``_source``) document counts per index: one ``size: 0`` terms-on-``_index`` search."""
    resp = client.search(
        index=",".join(chunk),
        size=0,
        track_total_hits=True,
        expand_wildcards="all",
        ignore_unavailable=True,
        aggs={"by_index": {"terms": {"field": "_index", "size": max(len(chunk), 10)}}},
    ).body
    buckets = ((resp.get("aggregations") or {}).get("by_index") or {}).get("buckets") or []
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}


def _templates(client: Elasticsearch, include_hidden: bool) -> list[EsTemplate]:
    try:
        body = client.indices.get_index_template().body
    except NotFoundError:  # a cluster without any composable template answers 404
        return []
    out: list[EsTemplate] = []
    for item in body.get("index_templates") or []:
        name = str(item.get("name"))
        tpl = item.get("index_template") or {}
        managed = bool((tpl.get("_meta") or {}).get("managed"))
        if not include_hidden and (name.startswith(".") or managed):
            continue
        out.append(
            EsTemplate(
                name=name,
                index_patterns=_as_list(tpl.get("index_patterns")),
                priority=tpl.get("priority"),
                composed_of=_as_list(tpl.get("composed_of")),
                data_stream=tpl.get("data_stream") is not None,
            )
        )
    return sorted(out, key=lambda t: t.name)


def match_template(index: str, templates: Sequence[EsTemplate]) -> str | None:
    """The composable template Elasticsearch would apply to ``index``: highest priority match."""
    matching = [t for t in templates if any(fnmatch.fnmatchcase(index, p) for p in t.index_patterns)]
    if not matching:
        return None
    return max(matching, key=lambda t: (t.priority or 0, t.name)).name


def _facts(
    name: str,
    metas: Sequence[_IndexMeta],
    family: bool,
    stream: str | None,
    period: Period | None,
    ts_field: str | None,
    hidden: set[str],
    alias_members: Mapping[str, list[str]],
) -> EsIndexFacts:
    """One index, or a family/data stream merged into one set of facts."""
    fields, conflicts = merge_fields([m.fields for m in metas])
    analyzers: dict[str, EsAnalyzer] = {}
    for m in metas:
        for an in text_analyzers(m.fields, m.settings):
            analyzers.setdefault(an, analyzer_fit(an, m.settings))
    aliases: dict[str, EsAlias] = {}
    for m in metas:
        for alias, spec in m.aliases.items():
            if alias in aliases:
                continue
            aliases[alias] = EsAlias(
                name=alias,
                indices=sorted(alias_members.get(alias, [])),
                filter=dict(spec["filter"]) if isinstance(spec.get("filter"), Mapping) else None,
                is_write_index=spec.get("is_write_index"),
            )
    policies = Counter(str(p) for m in metas if (p := _index_setting(m.settings, "lifecycle", "name")))
    search: Counter[str] = Counter()
    for m in metas:
        search.update(m.search or {})
    runtime: dict[str, str] = {}
    for m in metas:
        runtime.update(m.info.runtime_fields or {})
    newest = metas[-1]
    return EsIndexFacts(
        name=name,
        indices=[m.name for m in metas],
        family=family,
        data_stream=stream,
        hidden=any(m.name in hidden for m in metas) and not stream,
        docs_count=sum(m.docs for m in metas),
        store_bytes=sum(m.store for m in metas),
        primary_shards=sum(m.shards for m in metas),
        replicas=max(m.replicas for m in metas),
        dynamic=newest.info.dynamic,
        source_enabled=all(m.info.source_enabled for m in metas),
        source_excludes=sorted({x for m in metas for x in (m.info.source_excludes or [])}),
        fields=fields,
        analyzers=list(analyzers.values()),
        aliases=sorted(aliases.values(), key=lambda a: a.name),
        ilm_policy=policies.most_common(1)[0][0] if policies else None,
        time_field=ts_field or pick_time_field(fields),
        search_stats=dict(search),
        family_period=period if family else None,
        field_conflicts=conflicts,
        runtime_fields=runtime,
    )
