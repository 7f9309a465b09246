"""A deterministic, realistic document corpus built from real text shipped on this machine.

The text is the docstrings of a fixed list of Python standard-library modules (functions, classes
and methods, walked with :mod:`inspect` in sorted order), so it is real English prose with code
words, punctuation and varying lengths, needs no download, and is identical on every run of the
same interpreter. Each docstring becomes a document with the field types an Elasticsearch index
usually has: analyzed text with a keyword multi-field, keywords, a nested array, numbers, a date,
an IP, a geo_point, an 8-dimension dense vector, and awkward names (``Author.Name`` with a dot and
upper case, the reserved words ``select`` and ``Order``).

Used by the integration tests and ``bench/es_copy.py``:

* :func:`corpus_mapping` - the index mapping (``title.raw`` multi-field, ``copy_to`` into
  ``all_text``, nested ``comments``, ``dense_vector`` with cosine similarity). The text analyzer
  defaults to ``standard`` because the test server lacks the analysis-common module (``english``
  is rejected there); pass ``analyzer="english"`` for a full distribution.
* :func:`documents` - N documents (default 200,000, about 1 KB each), cycling through the
  docstrings with variations so every document is distinct.
* :func:`index_corpus` - bulk-index them (``helpers.streaming_bulk``, or ``parallel_bulk``).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import struct
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from elasticsearch import Elasticsearch, helpers

# A fixed, ordered list: changing it changes the corpus (tests never hard-code its content).
STDLIB_MODULES: tuple[str, ...] = (
    "abc", "argparse", "array", "ast", "asyncio", "base64", "bisect", "calendar", "cmath", "codecs",
    "collections", "colorsys", "concurrent.futures", "configparser", "contextlib", "copy", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "email.message", "enum", "filecmp", "fnmatch", "fractions", "functools",
    "getopt", "gettext", "glob", "gzip", "hashlib", "heapq", "hmac", "html", "html.parser", "http.client",
    "imaplib", "inspect", "io", "ipaddress", "itertools", "json", "logging", "lzma", "mailbox", "math",
    "mimetypes", "operator", "optparse", "os", "os.path", "pathlib", "pickle", "pkgutil", "platform",
    "plistlib", "pprint", "queue", "quopri", "random", "re", "reprlib", "sched", "secrets", "selectors",
    "shelve", "shlex", "shutil", "signal", "smtplib", "socket", "sqlite3", "ssl", "statistics", "string",
    "struct", "subprocess", "tarfile", "tempfile", "textwrap", "threading", "time", "timeit", "tokenize",
    "trace", "traceback", "types", "typing", "unicodedata", "unittest", "urllib.parse", "urllib.request",
    "uuid", "warnings", "wave", "weakref", "xml.dom.minidom", "xml.etree.ElementTree", "zipfile", "zlib",
)  # fmt: skip

VECTOR_DIMS = 8
TARGET_BYTES = 1000
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_USERS = ("ada", "grace", "linus", "guido", "barbara", "ken", "margaret", "dennis", "edsger", "frances")
_CITIES = (  # (lat, lon) of real cities: realistic geo_point values
    (48.8566, 2.3522), (52.5200, 13.4050), (40.7128, -74.0060), (35.6762, 139.6503), (-33.8688, 151.2093),
    (51.5074, -0.1278), (37.7749, -122.4194), (55.7558, 37.6173), (-23.5505, -46.6333), (19.0760, 72.8777),
)  # fmt: skip


@lru_cache(maxsize=1)
def docstrings() -> tuple[tuple[str, str, str], ...]:
    """(module, qualified name, docstring) for every documented public member, deterministic order.

    Modules missing from this interpreter are skipped; identical docstrings (inherited ones) are
    kept once.
    """
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()

    def add(module: str, qualname: str, obj: Any) -> None:
        try:
            with warnings.catch_warnings():  # typing.io & co. warn when their docstring is read
                warnings.simplefilter("ignore", DeprecationWarning)
                doc = inspect.getdoc(obj)
        except Exception:  # some C objects raise on attribute access
            return
        if not doc or len(doc) < 40:
            return
        doc = doc.strip()
        if doc in seen:
            return
        seen.add(doc)
        out.append((module, qualname, doc))

    for module_name in STDLIB_MODULES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                module = importlib.import_module(module_name)
        except ImportError:
            continue
        add(module_name, module_name, module)
        for name, member in sorted(vars(module).items()):
            if name.startswith("_") or not (inspect.isroutine(member) or inspect.isclass(member)):
                continue
            if getattr(member, "__module__", module_name) not in (module_name, f"_{module_name}", None) and not (
                str(getattr(member, "__module__", "")).startswith(module_name.split(".")[0])
            ):
                continue  # re-exported from another module: documented there
            add(module_name, f"{module_name}.{name}", member)
            if inspect.isclass(member):
                for attr, value in sorted(vars(member).items()):
                    if not attr.startswith("_") and inspect.isroutine(value):
                        add(module_name, f"{module_name}.{name}.{attr}", value)
    return tuple(out)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def embedding(text: str, dims: int = VECTOR_DIMS) -> list[float]:
    """A deterministic unit vector from the text's words (texts sharing words point alike).

    Each word adds a hash-derived direction (a tiny random projection of the bag of words), so
    the cosine similarity of two documents grows with their shared vocabulary - enough for kNN
    results to be meaningful in tests, with no model involved.
    """
    acc = [0.0] * dims
    for word in text.lower().split()[:200]:
        for i, v in enumerate(_word_direction(word, dims)):
            acc[i] += v
    norm = math.sqrt(sum(x * x for x in acc)) or 1.0
    if norm == 1.0 and not any(acc):
        acc[0] = 1.0  # cosine similarity rejects the zero vector
    return [round(x / norm, 6) for x in acc]


@lru_cache(maxsize=65536)
def _word_direction(word: str, dims: int) -> tuple[float, ...]:
    """A word's hash-derived direction (cached: the corpus vocabulary is small)."""
    raw = hashlib.blake2b(word.encode(), digest_size=dims * 2).digest()
    return tuple(v / 32768.0 for (v,) in struct.iter_unpack(">h", raw))


def _title(qualname: str, variant: int) -> str:
    words = qualname.replace(".", " ").replace("_", " ")
    return words if variant == 0 else f"{words} (part {variant + 1})"


def make_document(i: int) -> dict[str, Any]:
    """Document number ``i`` (0-based): deterministic, about :data:`TARGET_BYTES` of JSON."""
    entries = docstrings()
    n = len(entries)
    module, qualname, doc = entries[i % n]
    variant = i // n
    body = doc
    k = 1
    while len(body) < TARGET_BYTES - 550:  # short docstrings are padded with the next ones
        body += "\n\n" + entries[(i + k) % n][2]
        k += 1
    body = body[: TARGET_BYTES - 450].rsplit(" ", 1)[0]
    h = _digest("doc", i)
    lat, lon = _CITIES[h[0] % len(_CITIES)]
    published = _EPOCH + timedelta(seconds=int.from_bytes(h[1:5], "big") % (2 * 365 * 86400))
    first_line = doc.splitlines()[0]
    kind = "module" if qualname == module else ("method" if qualname.count(".") - module.count(".") >= 2 else "member")
    return {
        "title": _title(qualname, variant),
        "body": body,
        "tags": [module, kind],
        "author": {"name": _USERS[h[5] % len(_USERS)].title()},
        "Author.Name": _USERS[h[6] % len(_USERS)].upper(),
        "select": h[7] % 5,
        "Order": f"ORD-{int.from_bytes(h[8:11], 'big'):07d}",
        "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "views": int.from_bytes(h[11:14], "big") % 100_000,
        "rating": round(1 + (h[14] % 41) / 10, 1),
        "ip": f"10.{h[15]}.{h[16]}.{h[17] % 254 + 1}",
        "location": {"lat": round(lat + (h[18] - 128) / 1000, 4), "lon": round(lon + (h[19] - 128) / 1000, 4)},
        "embedding": embedding(f"{qualname} {body}"),
        "comments": [
            {"user": _USERS[(h[20] + c) % len(_USERS)], "text": f"{first_line[:80]} (comment {c + 1})"}
            for c in range(1 + h[21] % 3)
        ],
    }


def doc_id(i: int) -> str:
    """The ``_id`` of document ``i``."""
    return f"doc-{i:07d}"


def documents(n: int = 200_000, *, start: int = 0) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``_id``, document) pairs ``start`` .. ``start + n - 1``."""
    for i in range(start, start + n):
        yield doc_id(i), make_document(i)


def corpus_mapping(analyzer: str = "standard", *, shards: int = 1) -> dict[str, Any]:
    """``settings`` + ``mappings`` for the corpus index (pass to ``indices.create(**...)``)."""
    text: dict[str, Any] = {"type": "text", "analyzer": analyzer, "copy_to": ["all_text"]}
    return {
        "settings": {"number_of_shards": shards, "number_of_replicas": 0},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "title": {**text, "fields": {"raw": {"type": "keyword", "ignore_above": 256}}},
                "body": text,
                "all_text": {"type": "text", "analyzer": analyzer},
                "tags": {"type": "keyword"},
                "author": {"properties": {"name": {"type": "keyword"}}},
                "Author": {"properties": {"Name": {"type": "keyword"}}},
                "select": {"type": "integer"},
                "Order": {"type": "keyword"},
                "published_at": {"type": "date"},
                "views": {"type": "long"},
                "rating": {"type": "float"},
                "ip": {"type": "ip"},
                "location": {"type": "geo_point"},
                "embedding": {"type": "dense_vector", "dims": VECTOR_DIMS, "similarity": "cosine", "index": True},
                "comments": {
                    "type": "nested",
                    "properties": {"user": {"type": "keyword"}, "text": {"type": "text", "analyzer": analyzer}},
                },
            },
        },
    }


def index_corpus(
    client: Elasticsearch,
    index: str,
    n: int,
    *,
    mapping: dict[str, Any] | None = None,
    batch: int = 2000,
    threads: int = 1,
    create: bool = True,
    refresh: bool = True,
) -> int:
    """Create ``index`` (with ``mapping``, default :func:`corpus_mapping`) and bulk-index ``n`` documents.

    Returns the number of documents indexed; raises on the first failed item (a short corpus
    would make every count check downstream meaningless).
    """
    if create:
        client.indices.create(index=index, **(mapping or corpus_mapping()))
    actions = ({"_index": index, "_id": _id, "_source": doc} for _id, doc in documents(n))
    indexed = 0
    results: Iterable[tuple[bool, Any]]
    if threads > 1:
        results = helpers.parallel_bulk(client, actions, thread_count=threads, chunk_size=batch)
    else:
        results = helpers.streaming_bulk(client, actions, chunk_size=batch, max_retries=3)
    for ok, item in results:
        if not ok:
            raise RuntimeError(f"bulk indexing into {index} failed: {item}")
        indexed += 1
    if refresh:
        client.indices.refresh(index=index)
    return indexed
