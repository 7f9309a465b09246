"""Key-name pattern inference: ``user:42:profile`` -> ``user:{id}:profile`` (pure, no I/O).

Pattern syntax
--------------
A pattern is literal text with placeholders in braces; a literal brace is doubled (``{{``/``}}``,
as in ``str.format``) so Redis Cluster hash tags survive: ``user:{42}`` -> ``user:{{{id}}}``.

===========  ==========================================================================
placeholder  matches
===========  ==========================================================================
``{id}``     ASCII digits (also a run of >= 3 digits inside a word: ``item1234``)
``{ts}``     unix timestamp, seconds (10 digits) or milliseconds (13), years 2000-2100
``{date}``   ISO date / date-time (``2024-01-15``, ``2024-01-15T10:00:00Z``) or ``yyyymmdd``
``{uuid}``   canonical 8-4-4-4-12 UUID
``{hash}``   hex of md5/sha1/sha256/sha512 length (32/40/64/128)
``{hex}``    other hex runs of >= 12 characters with letters and digits (ObjectIds, tokens)
``{email}``  an e-mail address
``{bin}``    a segment holding bytes that are not valid UTF-8
``{*}``      any one segment (high-cardinality literal names merged by :func:`group_patterns`)
``{**}``     anything (a merged variable-depth tail, or the catch-all)
===========  ==========================================================================

A key is cut into *segments* at ``:`` ``/`` ``|`` ``.``; e-mails and dates are recognised over the
whole key first because they contain those characters. Segments are then generalised word by
word, so mixed tokens keep their literal parts (``order-2024-01-15`` -> ``order-{date}``).

Keys are handled as text decoded UTF-8 with ``surrogateescape`` (see
:func:`pgconsolidate.sources.redis.key_text_for_regex`), so non-UTF-8 bytes never reach a pattern
string: such segments become ``{bin}``, keeping patterns serialisable to YAML/JSON.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

SEPARATORS = ":/|."
"""Characters that cut a key into segments."""

_SEP_SPLIT = re.compile(r"([:/|.])")
_DATE_CORE = (
    r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_UUID_CORE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_EMAIL_CORE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_ANY_SEGMENT = r"[^:/|.]*"

# Entities recognised over the whole key before it is cut into segments, each bounded by
# non-alphanumerics so "x2024-01-15" or "abc@def.gh1" are not half-eaten.
_ATOMS = re.compile(
    rf"(?<![A-Za-z0-9])(?:(?P<uuid>{_UUID_CORE})|(?P<date>{_DATE_CORE})|"
    rf"(?<![._%+-])(?P<email>{_EMAIL_CORE}))(?![A-Za-z0-9])"
)
_WORD = re.compile(r"[A-Za-z0-9]+")
_DIGIT_RUN = re.compile(r"[0-9]{3,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_HASH_LENGTHS = frozenset({32, 40, 64, 128})

PLACEHOLDER_REGEX: dict[str, str] = {
    "id": r"[0-9]+",
    "ts": r"[0-9]{10}(?:[0-9]{3})?",
    "date": rf"(?:{_DATE_CORE}|[0-9]{{8}})",
    "uuid": _UUID_CORE,
    "hash": r"(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})",
    "hex": r"[0-9a-fA-F]{12,}",
    "email": f"(?:{_EMAIL_CORE})",
    "bin": _ANY_SEGMENT,
    "*": _ANY_SEGMENT,
    "**": r"[\s\S]*",
}
"""Regex of each placeholder (ASCII classes only: ``\\d`` would also match Arabic-Indic digits)."""

# Placeholders that may contain a separator: a segment holding one is never merged into {*}.
_SPANNING = ("{date}", "{email}", "{**}")
_PATTERN_TOKEN = re.compile(r"\{\{|\}\}|\{([a-z*]+)\}|[^{}]+|[{}]")

MAX_PATTERNS = 200
"""Default cap on patterns per database; the least populated ones fall into a catch-all."""
CATCH_ALL = "{**}"
"""The catch-all pattern: every key no other pattern claims."""

# Merge thresholds (see group_patterns): a position or tail with this many distinct literal
# names is a name-like field, not structure.
_MANY_NAMES = 32
_MANY_PATH_NAMES = 5
_FEW_KEYS_PER_NAME = 3
_REPRESENTATIVES = 32

# Fold thresholds (see _fold_rare): a shape with at most _RARE_KEYS sampled keys -- or a literal
# one-off under 1/_RARE_SHARE of its family -- joins a sibling family of at least _MIN_FAMILY keys.
_RARE_KEYS = 2
_RARE_SHARE = 100
_MIN_FAMILY = 10
_WILDCARDS = frozenset({"{*}", "{**}", "{bin}"})


# --------------------------------------------------------------------------- single keys


def _lit(text: str) -> str:
    """Literal text in pattern syntax (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


def _classify_digits(word: str) -> str:
    """Placeholder for an all-digits word: {ts}, {date} (yyyymmdd) or {id}."""
    n = len(word)
    if n in (10, 13):
        seconds = int(word) // (1000 if n == 13 else 1)
        if 946_684_800 <= seconds <= 4_102_444_800:  # 2000-01-01 .. 2100-01-01
            return "{ts}"
    if n == 8:
        year, month, day = int(word[:4]), int(word[4:6]), int(word[6:])
        if 1970 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31:
            return "{date}"
    return "{id}"


def _generalise_word(word: str) -> str:
    """Placeholder (or pattern text) for one ASCII alphanumeric word."""
    if word.isdigit():
        return _classify_digits(word)
    has_digit = any(c.isdigit() for c in word)
    if not has_digit:
        return word
    if len(word) >= 12 and _HEX.fullmatch(word) and (word.lower() == word or word.upper() == word):
        return "{hash}" if len(word) in _HASH_LENGTHS else "{hex}"
    # Mixed token such as "item1234": keep the letters, generalise long digit runs only, so
    # "v2" or "utf8" stay literal.
    return _DIGIT_RUN.sub("{id}", word)


def _generalise_text(text: str) -> str:
    """Pattern text for a segment fragment without atoms: words generalised, the rest literal."""
    out: list[str] = []
    pos = 0
    for m in _WORD.finditer(text):
        out.append(_lit(text[pos : m.start()]))
        out.append(_generalise_word(m.group()))
        pos = m.end()
    out.append(_lit(text[pos:]))
    return "".join(out)


def _has_surrogate(text: str) -> bool:
    """True when ``text`` holds surrogate-escaped bytes (the key was not valid UTF-8)."""
    return any("\udc80" <= c <= "\udcff" for c in text)


def tokenize(key: str) -> tuple[str, ...]:
    """The generalised shape of ``key``: ``(segment, separator, segment, ..., segment)``.

    Segments are in pattern syntax; ``"".join(tokenize(k)) == infer_pattern(k)``.
    """
    binary = _has_surrogate(key)
    # 1. atoms over the whole key (skipped for non-UTF-8 keys: their segments become {bin}).
    pieces: list[tuple[bool, str]] = []  # (is_atom, text-or-placeholder)
    pos = 0
    if not binary:
        for m in _ATOMS.finditer(key):
            pieces.append((False, key[pos : m.start()]))
            pieces.append((True, "{" + str(m.lastgroup) + "}"))
            pos = m.end()
    pieces.append((False, key[pos:]))
    # 2. cut the non-atom text at separators; atoms stay inside their segment.
    tokens: list[str] = []
    current: list[str] = []
    raw_current: list[str] = []
    for is_atom, text in pieces:
        if is_atom:
            current.append(text)
            continue
        parts = _SEP_SPLIT.split(text)
        for i, part in enumerate(parts):
            if i % 2 == 1:  # a separator closes the segment
                tokens.append(_close_segment(current, raw_current, binary))
                tokens.append(part)
                current, raw_current = [], []
            elif part:
                current.append(_generalise_text(part) if not binary else _lit(part))
                raw_current.append(part)
    tokens.append(_close_segment(current, raw_current, binary))
    return tuple(tokens)


def _close_segment(current: list[str], raw: list[str], binary: bool) -> str:
    """Render one segment; a segment with non-UTF-8 bytes becomes ``{bin}``, never raw surrogates."""
    if binary and any(_has_surrogate(r) for r in raw):
        return "{bin}"
    if binary:
        return _generalise_text("".join(raw))
    return "".join(current)


def infer_pattern(key: str) -> str:
    """The pattern of one key, e.g. ``"user:42:profile"`` -> ``"user:{id}:profile"``."""
    return "".join(tokenize(key))


# --------------------------------------------------------------------------- pattern syntax


def parse_pattern(pattern: str) -> list[tuple[bool, str]]:
    """Split a pattern into ``(is_placeholder, text)`` parts (literal text unescaped)."""
    parts: list[tuple[bool, str]] = []
    for m in _PATTERN_TOKEN.finditer(pattern):
        tok = m.group()
        if m.group(1) is not None and m.group(1) in PLACEHOLDER_REGEX:
            parts.append((True, m.group(1)))
        elif tok in ("{{", "}}"):
            parts.append((False, tok[0]))
        else:
            parts.append((False, tok))
    return parts


def pattern_regex(pattern: str) -> str:
    """Python regex (use with ``re.fullmatch``) of a pattern; literal parts are escaped."""
    out = []
    for is_ph, text in parse_pattern(pattern):
        out.append(f"(?:{PLACEHOLDER_REGEX[text]})" if is_ph else re.escape(text))
    return "".join(out)


_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def pattern_glob(pattern: str) -> str:
    """SCAN MATCH glob for a pattern: a superset of its regex (placeholders become ``*``)."""
    out: list[str] = []
    for is_ph, text in parse_pattern(pattern):
        if is_ph:
            if not out or out[-1] != "*":
                out.append("*")
        else:
            out.append(_GLOB_SPECIAL.sub(r"\\\1", text))
    return "".join(out)


@functools.lru_cache(maxsize=65536)
def _is_literal(segment: str) -> bool:
    """True when a rendered segment holds no placeholder."""
    return all(not is_ph for is_ph, _ in parse_pattern(segment))


def _literal_prefix(pattern: str) -> str:
    """The literal text before the first placeholder (a cheap pre-filter before a regex)."""
    out = []
    for is_ph, text in parse_pattern(pattern):
        if is_ph:
            break
        out.append(text)
    return "".join(out)


# --------------------------------------------------------------------------- grouping


@dataclass
class PatternGroup:
    """A final pattern with its (exclusive) regex, SCAN glob and the indices of its member keys."""

    pattern: str
    regex: str
    glob: str
    members: list[int] = field(default_factory=list)


Shape = tuple[str, ...]


def group_patterns(
    keys: Sequence[str], *, max_patterns: int = MAX_PATTERNS, kinds: Sequence[Hashable] | None = None
) -> list[PatternGroup]:
    """Group keys into at most ``max_patterns`` patterns, most populated first.

    1. every key gets its inferred shape (:func:`tokenize`);
    2. a segment position whose literal values look like names (many distinct values, or few
       keys per value) is merged into ``{*}``; sibling placeholders merge (``{ts}`` into ``{id}``);
    3. a literal prefix with many differently shaped tails becomes ``prefix{**}``; then many
       sparse shapes with the same separators and nothing in common become ``{*}:{*}``-like;
    4. rare one-off shapes join the closest sibling family with volume, whose pattern is widened
       (``cache:page:/{*}/{id}`` + ``cache:page:/with space`` -> ``cache:page:/{**}``), see
       :func:`_fold_rare`; ``kinds`` (one label per key, e.g. its Redis type) restricts this to
       families whose keys carry the rare keys' labels, so folding never mixes types;
    5. beyond ``max_patterns`` the least populated patterns fall into the catch-all ``{**}``;
    6. regexes are made mutually exclusive where the sample shows an overlap: the less specific
       pattern gets a negative look-ahead for the more specific one, and keys are assigned by the
       final regexes, exactly as the copy engine will filter them.
    """
    if max_patterns < 1:
        raise ValueError("max_patterns must be >= 1")
    if kinds is not None and len(kinds) != len(keys):
        raise ValueError("kinds must hold one label per key")
    shapes: dict[Shape, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        shapes[tokenize(key)].append(i)
    merged = _merge_positions(dict(shapes))
    merged = _merge_tails(merged)
    merged = _merge_sparse_skeletons(merged)
    merged = _fold_rare(merged, kinds)
    capped = _cap(merged, max_patterns)
    return _exclusive(capped, keys)


@functools.lru_cache(maxsize=65536)
def _absorbable(segment: str) -> bool:
    """A segment may be merged into ``{*}`` when it cannot contain a separator."""
    return not any(p in segment for p in _SPANNING)


def _merged_value(values: set[str]) -> str | None:
    """The placeholder that replaces a set of segment values at one position, or None to keep them."""
    literals = [v for v in values if _is_literal(v)]
    if not literals:
        if values <= {"{id}", "{ts}"}:
            return "{id}"
        if values <= {"{hex}", "{hash}"}:
            return "{hex}"
    return "{*}" if all(_absorbable(v) for v in values) else None


def _should_merge(values: set[str], n_keys: int, *, after_slash: bool = False) -> bool:
    """Decide whether the distinct values at one position are data (merge) or structure (keep).

    Segments after ``/`` are path components (URLs, file paths): a handful of distinct names is
    already data there, while ``user:{id}:profile|settings|friends`` after ``:`` is structure.
    """
    literals = sum(1 for v in values if _is_literal(v))
    if literals == 0:
        return len(values) >= 2
    if literals >= (_MANY_PATH_NAMES if after_slash else _MANY_NAMES):
        return True
    # few keys per distinct name -> the names are data (page paths, user names)
    return literals >= 3 and n_keys <= _FEW_KEYS_PER_NAME * len(values)


def _merge_positions(shapes: dict[Shape, list[int]]) -> dict[Shape, list[int]]:
    """Merge segment positions whose values are data rather than structure, until nothing changes."""
    changed = True
    while changed:
        changed = False
        by_len: dict[int, list[Shape]] = defaultdict(list)
        for s in shapes:
            by_len[len(s)].append(s)
        for length, group in by_len.items():
            for pos in range(0, length, 2):
                masks: dict[Shape, list[Shape]] = defaultdict(list)
                for s in group:
                    if s in shapes and _absorbable(s[pos]):
                        masks[(*s[:pos], "", *s[pos + 1 :])].append(s)
                for members in masks.values():
                    if len(members) < 2:
                        continue
                    values = {s[pos] for s in members}
                    n_keys = sum(len(shapes[s]) for s in members)
                    path_like = pos > 0 and members[0][pos - 1] == "/"
                    merge = _should_merge(values, n_keys, after_slash=path_like)
                    replacement = _merged_value(values) if merge else None
                    if replacement is None:
                        continue
                    target = (*members[0][:pos], replacement, *members[0][pos + 1 :])
                    bucket: list[int] = []
                    for s in members:
                        bucket.extend(shapes.pop(s))
                    shapes.setdefault(target, []).extend(bucket)
                    changed = True
    return shapes


def _merge_sparse_skeletons(shapes: dict[Shape, list[int]]) -> dict[Shape, list[int]]:
    """Merge many rarely seen shapes with the same separators (random multi-segment names).

    Positional merging needs all other segments to agree; fully random names never do. Shapes
    with few keys each are grouped by their separator sequence; a large group becomes one shape
    that keeps the segments all members agree on and has ``{*}`` elsewhere.
    """
    skeletons: dict[Shape, list[Shape]] = defaultdict(list)
    for s, members in shapes.items():
        if len(members) <= _FEW_KEYS_PER_NAME and all(_absorbable(seg) for seg in s[::2]):
            skeletons[s[1::2]].append(s)
    for group in skeletons.values():
        if len(group) < _MANY_NAMES:
            continue
        merged = tuple(group[0][i] if i % 2 or len({s[i] for s in group}) == 1 else "{*}" for i in range(len(group[0])))
        bucket: list[int] = []
        for s in group:
            bucket.extend(shapes.pop(s))
        shapes.setdefault(merged, []).extend(bucket)
    return shapes


def _merge_tails(shapes: dict[Shape, list[int]]) -> dict[Shape, list[int]]:
    """Collapse a literal prefix with many differently shaped tails into ``prefix{**}``."""
    max_segments = max((len(s) + 1) // 2 for s in shapes) if shapes else 0
    for k in range(max_segments - 1, 0, -1):
        prefixes: dict[Shape, list[Shape]] = defaultdict(list)
        for s in shapes:
            if len(s) > 2 * k and s[0] != "{**}":
                prefixes[s[: 2 * k]].append(s)
        for prefix, members in prefixes.items():
            if not any(seg and _is_literal(seg) for seg in prefix[::2]):
                continue  # never collapse to a bare "{*}:{**}": that is the catch-all's job
            lengths = {len(s) for s in members}
            n_keys = sum(len(shapes[s]) for s in members)
            many = len(members) >= _MANY_NAMES
            sparse = len(members) >= 3 and len(lengths) > 1 and n_keys <= _FEW_KEYS_PER_NAME * len(members)
            if not (many or sparse):
                continue
            bucket: list[int] = []
            for s in members:
                bucket.extend(shapes.pop(s))
            shapes.setdefault((*prefix, "{**}"), []).extend(bucket)
    return shapes


def _anchor(shape: Shape) -> int:
    """Tokens a shared prefix must cover before ``shape`` may be widened to take in another shape.

    That is every non-empty literal segment before the first wildcard (``{*}``, ``{**}``,
    ``{bin}``): the words naming the family. ``cache:page:/{*}/{id}`` needs ``cache:page:``, so a
    stray ``cache:menu`` never widens it to ``cache:{**}``; ``user:{id}:settings`` needs its
    ``settings``, so it never becomes ``user:{**}``.
    """
    need = 0
    for i in range(0, len(shape), 2):
        if shape[i] in _WILDCARDS:
            break
        if shape[i] and _is_literal(shape[i]):
            need = i + 2
    return need


def _names_family(prefix: Shape) -> bool:
    """A shared prefix names a family when it holds a non-empty literal segment.

    Django's ``:1:`` version prefix (``""``, ``{id}``) alone does not: ``:1:navbar`` and
    ``:1:views.decorators...`` are unrelated.
    """
    return any(seg and _is_literal(seg) for seg in prefix[::2])


def _widen(target: Shape, donors: Sequence[Shape], cut: int) -> Shape:
    """The narrowest widening of ``target`` that also matches every donor shape.

    Same length and separators: the differing segments merge position-wise (``user:{id}`` +
    ``user:admin`` -> ``user:{*}``); otherwise the shared prefix of ``cut`` tokens gets ``{**}``.
    """
    if all(len(d) == len(target) and d[1::2] == target[1::2] for d in donors):
        out = list(target)
        for i in range(0, len(target), 2):
            values = {target[i], *(d[i] for d in donors)}
            if len(values) == 1:
                continue
            value = _merged_value(values)
            if value is None:
                break
            out[i] = value
        else:
            return tuple(out)
    return (*target[:cut], CATCH_ALL)


def _fold_rare(shapes: dict[Shape, list[int]], kinds: Sequence[Hashable] | None) -> dict[Shape, list[int]]:
    """Fold rare one-off shapes into the closest sibling family with volume (one table per family).

    A shape R joins a family T when:

    * R is rare: at most ``_RARE_KEYS`` sampled keys, or under ``1/_RARE_SHARE`` of T's keys with
      a fully literal tail after the shared prefix (the same one-off name under every tenant);
    * T has volume (``_MIN_FAMILY`` keys) and more keys than R, so two real families stay apart;
    * R and T share a prefix that ends at a separator, names a family (:func:`_names_family`)
      and covers T's naming words (:func:`_anchor`); the longest such prefix wins, then the
      biggest family;
    * every label of R's keys (``kinds``: Redis type) occurs among T's keys, so a fold never
      adds a type to a pattern.

    T is widened just enough to match R (:func:`_widen`); a family that received keys is never
    itself folded. Overlaps the widening creates are made disjoint later by :func:`_exclusive`.
    """
    counts = {s: len(m) for s, m in shapes.items()}
    biggest = max(counts.values(), default=0)
    if biggest < _MIN_FAMILY:
        return shapes
    labels: dict[Shape, frozenset[Hashable]] = {
        s: frozenset(kinds[i] for i in m) if kinds is not None else frozenset() for s, m in shapes.items()
    }
    # Every family with volume under each of its prefixes that could legitimately widen it.
    index: dict[Shape, list[Shape]] = defaultdict(list)
    for t, n in counts.items():
        if n < _MIN_FAMILY:
            continue
        for cut in range(max(2, _anchor(t)), len(t), 2):
            if _names_family(t[:cut]):
                index[t[:cut]].append(t)
    limit = max(_RARE_KEYS, (biggest - 1) // _RARE_SHARE)
    donors: dict[Shape, list[tuple[Shape, int]]] = defaultdict(list)
    for r in sorted((s for s in shapes if counts[s] <= limit), key=lambda s: (counts[s], "".join(s))):
        if r in donors:
            continue  # already received keys: it is a family now
        for cut in range(len(r) - 1, 1, -2):
            eligible = [t for t in index.get(r[:cut], ()) if t != r and _may_fold(r, t, cut, counts, labels)]
            if eligible:
                target = min(eligible, key=lambda t: (-counts[t], "".join(t)))
                donors[target].append((r, cut))
                break
    for target in sorted(donors, key="".join):
        folded = [r for r, _ in donors[target]]
        widened = _widen(target, folded, min(cut for _, cut in donors[target]))
        clash = widened not in (target, *folded) and widened in shapes
        if clash and labels[widened] != labels[target]:
            continue  # the widened pattern exists with other types: keep both sides as they are
        bucket = shapes.pop(target)
        for r in folded:
            bucket.extend(shapes.pop(r))
        shapes.setdefault(widened, []).extend(bucket)
        labels[widened] = labels[target]
    return shapes


def _may_fold(
    rare: Shape, target: Shape, cut: int, counts: dict[Shape, int], labels: dict[Shape, frozenset[Hashable]]
) -> bool:
    """The size and label conditions of :func:`_fold_rare` for one candidate pair."""
    n_rare, n_target = counts[rare], counts[target]
    if n_target <= n_rare or not labels[rare] <= labels[target]:
        return False
    if n_rare <= _RARE_KEYS:
        return True
    return n_rare * _RARE_SHARE < n_target and all(_is_literal(seg) for seg in rare[cut::2])


def _cap(shapes: dict[Shape, list[int]], max_patterns: int) -> dict[str, list[int]]:
    """Render shapes to patterns, keeping the most populated and folding the rest into the catch-all."""
    rendered: dict[str, list[int]] = defaultdict(list)
    for s, members in shapes.items():
        rendered["".join(s)].extend(members)
    if len(rendered) <= max_patterns:
        return dict(rendered)
    ordered = sorted(rendered.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    kept = dict(ordered[: max_patterns - 1])
    rest = kept.pop(CATCH_ALL, [])
    for _, members in ordered[max_patterns - 1 :]:
        rest.extend(members)
    kept[CATCH_ALL] = sorted(rest)
    return kept


def _specificity(pattern: str) -> tuple[int, int, int, int, str]:
    """Sort key: more specific patterns first (they win when two regexes overlap)."""
    parts = parse_pattern(pattern)
    phs = [t for is_ph, t in parts if is_ph]
    literal_len = sum(len(t) for is_ph, t in parts if not is_ph)
    return (phs.count("**"), phs.count("*") + phs.count("bin"), len(phs), -literal_len, pattern)


def _exclusive(groups: dict[str, list[int]], keys: Sequence[str]) -> list[PatternGroup]:
    """Make the regexes mutually exclusive where sampled keys show an overlap; assign keys by regex."""
    order = sorted(groups, key=_specificity)
    base = {p: pattern_regex(p) for p in order}
    compiled = {p: re.compile(base[p]) for p in order}
    prefix = {p: _literal_prefix(p) for p in order}
    rank = {p: i for i, p in enumerate(order)}
    excludes: dict[str, set[str]] = {p: set() for p in order}
    for p in order:
        members = groups[p]
        step = max(1, len(members) // _REPRESENTATIVES)
        for idx in members[::step][: _REPRESENTATIVES * 2]:
            key = keys[idx]
            for q in order:
                if q != p and key.startswith(prefix[q]) and compiled[q].fullmatch(key):
                    hi, lo = (p, q) if rank[p] < rank[q] else (q, p)
                    excludes[lo].add(hi)
    if CATCH_ALL in excludes:
        excludes[CATCH_ALL] = {p for p in order if p != CATCH_ALL}
    # Assign every key by the final rules: the most specific pattern whose regex matches it
    # (following exclusions upwards, since a rival may itself yield to a more specific one).
    rivals = {p: sorted(excludes[p], key=rank.__getitem__) for p in order}
    assigned: dict[str, list[int]] = {p: [] for p in order}
    for p in order:
        for idx in groups[p]:
            key = keys[idx]
            owner = p
            while True:
                for q in rivals[owner]:
                    if key.startswith(prefix[q]) and compiled[q].fullmatch(key):
                        owner = q
                        break
                else:
                    break
            assigned[owner].append(idx)
    result: list[PatternGroup] = []
    for p in order:
        if not assigned[p]:
            continue
        regex = base[p]
        if excludes[p]:
            alternatives = "|".join(base[q] for q in sorted(excludes[p], key=rank.__getitem__))
            regex = rf"(?!(?:{alternatives})\Z)(?:{regex})"
        result.append(PatternGroup(pattern=p, regex=regex, glob=pattern_glob(p), members=sorted(assigned[p])))
    result.sort(key=lambda g: (-len(g.members), g.pattern))
    return result
