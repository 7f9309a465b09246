"""Key-name pattern inference, pattern regex/glob rendering and grouping (no services)."""

from __future__ import annotations

import random
import re
import string
import uuid

import pytest

from pgconsolidate.analyze.keypatterns import (
    CATCH_ALL,
    PatternGroup,
    group_patterns,
    infer_pattern,
    parse_pattern,
    pattern_glob,
    pattern_regex,
)
from pgconsolidate.sources.redis import key_text_for_regex, key_to_text

INFER_CASES = [
    ("user:42:profile", "user:{id}:profile"),
    ("user:42", "user:{id}"),
    ("session:550e8400-e29b-41d4-a716-446655440000", "session:{uuid}"),
    ("SESSION:550E8400-E29B-41D4-A716-446655440000", "SESSION:{uuid}"),
    ("cache:5d41402abc4b2a76b9719d911017c592", "cache:{hash}"),  # md5
    ("etag:2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "etag:{hash}"),  # sha1
    ("blob:" + "ab12" * 16, "blob:{hash}"),  # sha256
    ("obj:507f1f77bcf86cd799439011", "obj:{hex}"),  # Mongo ObjectId
    ("events:2024-01-15T10:00:00Z:clicks", "events:{date}:clicks"),
    ("events:2024-01-15 10:00:00.123+02:00", "events:{date}"),
    ("stats:20240115", "stats:{date}"),
    ("report-2024-01-15", "report-{date}"),
    ("login:bob.smith+tag@example.co.uk", "login:{email}"),
    ("ts:1700000000", "ts:{ts}"),
    ("ts:1700000000123", "ts:{ts}"),
    ("n:1234567890123456", "n:{id}"),  # too long for a timestamp
    ("user:{42}:cart", "user:{{{id}}}:cart"),  # cluster hash tag: literal braces doubled
    ("item1234", "item{id}"),
    ("v2:config", "v2:config"),  # short digit runs in words stay literal
    ("app.user.42.name", "app.user.{id}.name"),
    ("path/to/7/file.json", "path/to/{id}/file.json"),
    ("a|b|9", "a|b|{id}"),
    ("rate:10.0.0.1:api", "rate:{id}.{id}.{id}.{id}:api"),
    ("my key with spaces", "my key with spaces"),
    ("quote\"s:'k'", "quote\"s:'k'"),
    ("ключ:42", "ключ:{id}"),
    ("emoji:🚀:7", "emoji:🚀:{id}"),
    ("deadbeefcafe", "deadbeefcafe"),  # hex-looking but no digit: a word
    ("", ""),
    (":", ":"),
    ("user_42-x", "user_{id}-x"),
    ("a*b?[c]\\d", "a*b?[c]\\d"),
]


@pytest.mark.parametrize(("key", "expected"), INFER_CASES)
def test_infer_pattern(key: str, expected: str) -> None:
    assert infer_pattern(key) == expected


@pytest.mark.parametrize(("key", "expected"), INFER_CASES)
def test_every_key_fullmatches_its_own_pattern_regex(key: str, expected: str) -> None:
    assert re.fullmatch(pattern_regex(infer_pattern(key)), key)


def test_non_utf8_key_segments_become_bin_and_never_leak_surrogates() -> None:
    raw = b"raw:\xff\xfe:42"
    text = key_text_for_regex(raw)
    pattern = infer_pattern(text)
    assert pattern == "raw:{bin}:{id}"
    pattern.encode("utf-8")  # serialisable: no lone surrogates
    assert re.fullmatch(pattern_regex(pattern), text)
    assert key_to_text(raw) == "raw:\\xff\\xfe:42"
    assert text.encode("utf-8", "surrogateescape") == raw  # lossless round trip


def test_pattern_regex_escapes_literals() -> None:
    regex = pattern_regex("a.b*c:{id}")
    assert re.fullmatch(regex, "a.b*c:12")
    assert not re.fullmatch(regex, "aXb*c:12")  # "." is literal
    assert not re.fullmatch(regex, "a.bbbc:12")
    assert not re.fullmatch(regex, "a.b*c:12x")  # anchored by fullmatch semantics
    assert not re.fullmatch(pattern_regex("x:{id}"), "x:١٢")  # Arabic-Indic digits are not ids


def test_pattern_glob_escapes_redis_glob_metacharacters() -> None:
    assert pattern_glob("user:{id}:profile") == "user:*:profile"
    assert pattern_glob("a*b?[c]\\d") == "a\\*b\\?\\[c\\]\\\\d"
    assert pattern_glob("user:{{{id}}}") == "user:{*}"
    assert pattern_glob("{id}{**}") == "*"  # consecutive wildcards collapse
    assert pattern_glob(CATCH_ALL) == "*"


def test_parse_pattern_round_trips_braces() -> None:
    assert parse_pattern("user:{{{id}}}") == [(False, "user:"), (False, "{"), (True, "id"), (False, "}")]


def _assign(groups: list[PatternGroup], keys: list[str]) -> dict[str, str]:
    """key -> pattern whose final regex fullmatches it; fails if a key matches two patterns."""
    owner: dict[str, str] = {}
    for key in keys:
        matches = [g.pattern for g in groups if re.fullmatch(g.regex, key)]
        assert len(matches) == 1, (key, matches)
        owner[key] = matches[0]
    return owner


def test_group_patterns_structured_keys() -> None:
    keys = [f"user:{i}:profile" for i in range(100)] + [f"user:{i}:settings" for i in range(80)]
    groups = group_patterns(keys)
    assert [(g.pattern, len(g.members)) for g in groups] == [("user:{id}:profile", 100), ("user:{id}:settings", 80)]
    owner = _assign(groups, keys)
    for g in groups:
        assert all(owner[keys[i]] == g.pattern for i in g.members)


def test_group_patterns_merges_name_like_segments_and_variable_depth_tails() -> None:
    rng = random.Random(3)

    def word() -> str:
        return "".join(rng.choices(string.ascii_lowercase, k=6))

    pages = ["cache:page:/" + "/".join(word() for _ in range(rng.randint(1, 3))) for _ in range(500)]
    names = [f"profile:{word()}" for _ in range(300)]
    config = ["config:theme", "config:lang", "config:tz"]
    keys = pages + names + config
    groups = group_patterns(keys)
    patterns = {g.pattern: len(g.members) for g in groups}
    assert patterns == {"cache:page:/{**}": 500, "profile:{*}": 300, "config:{*}": 3}
    _assign(groups, keys)


def test_group_patterns_keeps_structure_with_few_distinct_names() -> None:
    keys = [f"stats:{kind}:{i}" for kind in ("daily", "weekly") for i in range(200)]
    assert {g.pattern for g in group_patterns(keys)} == {"stats:daily:{id}", "stats:weekly:{id}"}


def test_group_patterns_path_components_are_data_but_colon_fields_are_structure() -> None:
    names = ["home", "about", "pricing", "faq", "blog", "docs"]
    pages = [f"cache:page:/{name}/{i}" for name in names for i in range(50)]
    fields = [f"user:{i}:{name}" for name in names for i in range(50)]
    patterns = {g.pattern: len(g.members) for g in group_patterns(pages + fields)}
    assert patterns == {"cache:page:/{*}/{id}": 300, **{f"user:{{id}}:{name}": 50 for name in names}}


def test_group_patterns_merges_sibling_number_placeholders() -> None:
    keys = [f"events:{1_700_000_000 + i}" for i in range(50)] + [f"events:{i}" for i in range(50)]
    groups = group_patterns(keys)
    assert [(g.pattern, len(g.members)) for g in groups] == [("events:{id}", 100)]


def test_group_patterns_overlapping_regexes_are_made_exclusive() -> None:
    # yyyymmdd-looking order ids are inferred as {date}; "{id}" also matches them.
    keys = [f"order:{20240100 + d}" for d in range(1, 29)] + [f"order:{i}" for i in range(300)]
    groups = group_patterns(keys)
    owner = _assign(groups, keys)  # asserts every key matches exactly one final regex
    sizes = {g.pattern: len(g.members) for g in groups}
    assert sum(sizes.values()) == len(keys)
    assert all(owner[keys[i]] == g.pattern for g in groups for i in g.members)


def test_group_patterns_caps_and_catch_all_is_exclusive() -> None:
    # 30 structured families of decreasing size; cap at 10 patterns.
    keys = [f"fam{chr(97 + f)}x:{i}" for f in range(26) for i in range(60 - 2 * f)]
    keys += [f"other{chr(97 + f)}y:{i}:z" for f in range(4) for i in range(3)]
    groups = group_patterns(keys, max_patterns=10)
    assert len(groups) <= 10
    assert CATCH_ALL in {g.pattern for g in groups}
    assert sum(len(g.members) for g in groups) == len(keys)
    owner = _assign(groups, keys)
    assert owner["famax:0"] == "famax:{id}"  # the biggest family is kept by name
    assert owner["otheray:0:z"] == CATCH_ALL


def test_group_patterns_random_names_do_not_explode() -> None:
    rng = random.Random(11)
    keys = ["".join(rng.choices(string.ascii_letters + "_-", k=rng.randint(5, 20))) for _ in range(5000)]
    keys += [f"{rng.choice(['a', 'b', 'c'])}:{''.join(rng.choices(string.ascii_lowercase, k=8))}" for _ in range(2000)]
    groups = group_patterns(keys)
    assert len(groups) <= 10, [g.pattern for g in groups][:20]
    _assign(groups, keys)


def test_group_patterns_random_multi_segment_names_collapse_by_skeleton() -> None:
    rng = random.Random(5)

    def word() -> str:
        return "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(3, 9)))

    keys = [":".join(word() for _ in range(rng.randint(1, 4))) for _ in range(4000)]
    groups = group_patterns(keys)
    patterns = {g.pattern for g in groups}
    assert {"{*}", "{*}:{*}", "{*}:{*}:{*}", "{*}:{*}:{*}:{*}"} <= patterns
    assert len(patterns) <= 8, patterns  # e.g. "{*}:{id}" when a numeric segment recurs
    _assign(groups, keys)


def test_group_patterns_odd_keys() -> None:
    keys = ['odd:"quoted" key', "odd:with space", "odd:ключ:ü", "raw:\udcff\udcfe:1", "user:{7}:cart", "a*b:1"]
    groups = group_patterns(keys)
    _assign(groups, keys)
    for g in groups:
        g.pattern.encode("utf-8")
        g.regex.encode("utf-8")
        g.glob.encode("utf-8")


# --------------------------------------------------------------------------- folding rare shapes

DEMO_PAGES = ["home", "about", "pricing", "blog", "docs", "search", "careers", "contact", "faq", "status"]
DEMO_ODD_PAGES = [
    'cache:page:/search?q="quoted" name',
    "cache:page:/café/ünicode 😀",
    "cache:page:/with space/and'apostrophe",
]


def _demo_keys() -> tuple[list[str], list[str]]:
    """The demo keyspace's names and Redis types (pgconsolidate/demo.py), without Redis."""
    rng = random.Random(42)
    typed: list[tuple[str, str]] = []
    typed += [(f"session:{uuid.UUID(int=rng.getrandbits(128), version=4)}", "hash") for _ in range(400)]
    typed += [(f"sess:{rng.getrandbits(128):032x}", "string") for _ in range(300)]
    typed += [(f"cache:page:/{rng.choice(DEMO_PAGES)}/{i}", "string") for i in range(500)]
    typed += [(f"cache:thumb:{i}", "string") for i in range(150)]
    typed += [(f"views:article:{i}", "string") for i in range(400)]
    typed += [(f"user:{i}", "hash") for i in range(500)]
    typed += [(f"product:{i}", "string") for i in range(300)]
    typed += [(k, "string") for k in DEMO_ODD_PAGES]
    typed += [(f"tags:article:{i}", "set") for i in range(20)]
    typed += [(f"rate:10.0.0.{i}:{29_400_000 + i}", "string") for i in range(20)]
    typed += [(f"lock:job:{i}", "string") for i in range(20)]
    typed += [("queue:emails", "list"), ("leaderboard:global", "zset"), ("events:orders", "stream")]
    return [k for k, _ in typed], [t for _, t in typed]


def _sizes(keys: list[str], kinds: list[str] | None = None) -> dict[str, int]:
    """pattern -> member count, after checking that every key matches exactly one final regex."""
    groups = group_patterns(keys, kinds=kinds)
    owner = _assign(groups, keys)
    assert all(owner[keys[i]] == g.pattern for g in groups for i in g.members)
    return {g.pattern: len(g.members) for g in groups}


def test_fold_rare_demo_keyspace_one_cache_page_family() -> None:
    keys, kinds = _demo_keys()
    assert _sizes(keys, kinds) == {
        "cache:page:/{**}": 503,  # the three awkward one-off pages joined the 500 pages
        "user:{id}": 500,
        "session:{uuid}": 400,
        "views:article:{id}": 400,
        "product:{id}": 300,
        "sess:{hash}": 300,
        "cache:thumb:{id}": 150,  # same first segment and type, but its own family
        "tags:article:{id}": 20,
        "rate:{id}.{id}.{id}.{id}:{id}": 20,
        "lock:job:{id}": 20,
        "queue:emails": 1,  # single keys of their own type and name: real usages
        "leaderboard:global": 1,
        "events:orders": 1,
    }


def test_fold_rare_without_the_odd_keys_changes_nothing() -> None:
    keys, kinds = _demo_keys()
    kept = [(k, t) for k, t in zip(keys, kinds, strict=True) if k not in DEMO_ODD_PAGES]
    sizes = _sizes([k for k, _ in kept], [t for _, t in kept])
    assert sizes["cache:page:/{*}/{id}"] == 500 and "cache:page:/{**}" not in sizes


def test_fold_rare_same_depth_one_offs_widen_position_wise() -> None:
    pages = [f"cache:page:/{name}/{i}" for name in DEMO_PAGES for i in range(30)]
    odd = ["cache:page:/with space/and'apostrophe", "cache:page:/café/ünicode 😀"]
    assert _sizes(pages + odd) == {"cache:page:/{*}/{*}": 302}


def test_fold_rare_name_into_id_family_and_never_across_types() -> None:
    users = [f"user:{i}" for i in range(200)]
    assert _sizes([*users, "user:admin"]) == {"user:{*}": 201}
    # the same names, but user:admin is a string next to hashes: it stays on its own
    assert _sizes([*users, "user:admin"], ["hash"] * 200 + ["string"]) == {"user:{id}": 200, "user:admin": 1}
    assert _sizes([*users, "user:admin"], ["hash"] * 201) == {"user:{*}": 201}


def test_fold_rare_never_folds_a_big_key_into_small_ones_when_labelled() -> None:
    users = [f"user:{i}" for i in range(200)]
    assert _sizes([*users, "user:index"], ["hash"] * 200 + ["hash:big"]) == {"user:{id}": 200, "user:index": 1}


def test_fold_rare_keeps_families_with_volume_apart() -> None:
    both = [f"user:{i}" for i in range(300)] + [f"user:{i}:settings" for i in range(200)]
    assert _sizes(both) == {"user:{id}": 300, "user:{id}:settings": 200}
    # 2% of the family, structured (placeholder in its tail): a family of its own, not a one-off
    small = [f"user:{i}" for i in range(1000)] + [f"user:{i}:settings" for i in range(20)]
    assert _sizes(small) == {"user:{id}": 1000, "user:{id}:settings": 20}
    # even under 1%: three keys agreeing on a structured shape are structure
    tiny = [f"user:{i}" for i in range(1000)] + [f"user:{i}:avatar" for i in range(3)]
    assert _sizes(tiny) == {"user:{id}": 1000, "user:{id}:avatar": 3}


def test_fold_rare_needs_the_family_words_and_volume() -> None:
    pages = [f"cache:page:/{name}/{i}" for name in DEMO_PAGES for i in range(30)]
    views = [f"views:article:{i}" for i in range(100)]
    keys = [*pages, *views, "cache:menu", "views:total", "cache:page:legacy"]
    assert _sizes(keys) == {
        "cache:page:{**}": 301,  # shares cache:page: -> the family widens to it
        "views:article:{id}": 100,
        "cache:menu": 1,  # shares only "cache:": widening the pages to cache:{**} is not a family
        "views:total": 1,  # "article" names the counters family
    }
    few = [f"job:{i}" for i in range(5)]  # below the family size: nothing to join
    assert _sizes([*few, "job:cleanup"]) == {"job:{id}": 5, "job:cleanup": 1}


def test_fold_rare_single_keys_of_different_names_stay_apart() -> None:
    keys = ["queue:emails", "leaderboard:global", "events:orders", "config:theme"]
    assert _sizes(keys, ["list", "zset", "stream", "string"]) == dict.fromkeys(keys, 1)


def test_fold_rare_django_version_prefix_is_not_a_family() -> None:
    md5 = [f"{random.Random(i).getrandbits(128):032x}" for i in range(120)]
    views = [f":1:views.decorators.cache.cache_page..GET.{h}.{md5[-1 - i]}.en-us.UTC" for i, h in enumerate(md5)]
    pages = [f":1:cache:page:/{name}/{i}" for name in DEMO_PAGES for i in range(20)]
    singles = [":1:navbar", ":1:site_settings"]
    sizes = _sizes([*views, *pages, ":1:cache:page:/weird key!", *singles])
    assert sizes == {
        ":{id}:views.decorators.cache.cache_page..GET.{hash}.{hash}.en-us.UTC": 120,
        ":{id}:cache:page:/{**}": 201,
        ":{id}:navbar": 1,  # shares only ":1:" (a version number, no word) with the others
        ":{id}:site_settings": 1,
    }


def test_fold_rare_django_arbitrary_names_do_not_swallow_a_dotted_one_off() -> None:
    rng = random.Random(4)
    names = [f":1:{''.join(rng.choices(string.ascii_lowercase + '_', k=12))}" for _ in range(300)]
    # ":{id}:{*}" has no family word before its wildcard; ":1:" alone must not widen it to ":{id}:{**}"
    assert _sizes([*names, ":1:menu.html"]) == {":{id}:{*}": 300, ":{id}:menu.html": 1}


def test_fold_rare_one_off_name_repeated_per_tenant_under_one_percent() -> None:
    rng = random.Random(9)
    pages = [f"tenant:{t}:page:/{rng.choice(DEMO_PAGES)}/{i}" for t in range(40) for i in range(50)]
    odd = [f'tenant:{t}:page:/search?q="x"' for t in range(15)]  # 15 keys, 0.75% of 2000
    assert _sizes(pages + odd) == {"tenant:{id}:page:/{**}": 2015}
    many_odd = [f'tenant:{t}:page:/search?q="x"' for t in range(40)]  # 2%: a family of its own
    sizes = _sizes(pages + many_odd)
    assert sizes == {"tenant:{id}:page:/{*}/{id}": 2000, 'tenant:{id}:page:/search?q="x"': 40}


def test_fold_rare_widened_family_stays_disjoint_from_its_specific_siblings() -> None:
    pages = [f"cache:page:/{name}/{i}" for name in DEMO_PAGES for i in range(30)]
    amp = [f"cache:page:/{name}/{i}/amp" for name in DEMO_PAGES for i in range(10)]
    sizes = _sizes([*pages, *amp, "cache:page:/odd one"])
    assert sizes == {"cache:page:/{**}": 301, "cache:page:/{*}/{id}/amp": 100}
    regex = next(g.regex for g in group_patterns([*pages, *amp, "cache:page:/odd one"]) if g.pattern.endswith("{**}"))
    assert not re.fullmatch(regex, "cache:page:/home/1/amp")  # look-ahead keeps the amp family out


def test_group_patterns_kinds_must_match_keys() -> None:
    with pytest.raises(ValueError, match="one label per key"):
        group_patterns(["a:1", "a:2"], kinds=["string"])
