"""Unit: the Elasticsearch client layer's version/header logic and error mapping (pure functions).

The test server is a single 9.2 node without security, so the 8.x-server, OpenSearch, old-server
and 401/403 cases are tested here on the probe bodies and statuses those servers return.
"""

from __future__ import annotations

import base64

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import AuthenticationException, BadRequestError

from pgconsolidate.errors import ConnectionFailed, SourceError, UsageError
from pgconsolidate.es.client import (
    CLIENT_MAJOR,
    auth_header,
    check_supported,
    compat_headers,
    compat_major,
    compat_media_type,
    parse_version,
    probe_failure,
    server_info_from,
    source_error,
    split_url,
)
from pgconsolidate.models_es import EsServerInfo

SHOWN = "https://elastic:***@es.example.com:9200"


def _meta(status: int) -> ApiResponseMeta:
    return ApiResponseMeta(
        status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0, node=NodeConfig("https", "h", 9200)
    )


# --------------------------------------------------------------------------- versions and headers


def test_parse_version() -> None:
    assert parse_version("8.15.2") == (8, 15, 2)
    assert parse_version("9.2.0-SNAPSHOT") == (9, 2, 0)
    assert parse_version("7.17") == (7, 17, 0)
    with pytest.raises(SourceError):
        parse_version("banana")


@pytest.mark.parametrize(
    ("server", "client", "expected"),
    [
        ("9.2.0", 9, None),  # same major: the client's own compatible-with=9
        ("8.19.3", 9, 8),  # 8.x rejects compatible-with=9
        ("7.17.1", 9, 7),
        ("9.1.0", 8, None),  # a newer server accepts an older client's declaration
        ("8.11.0", 8, None),
    ],
)
def test_compat_major(server: str, client: int, expected: int | None) -> None:
    assert compat_major(server, client) == expected


def test_compat_major_defaults_to_the_installed_client() -> None:
    assert compat_major(f"{CLIENT_MAJOR}.0.0") is None
    assert compat_major(f"{CLIENT_MAJOR - 1}.0.0") == CLIENT_MAJOR - 1


def test_compat_media_type() -> None:
    assert compat_media_type("application/json", 8) == "application/vnd.elasticsearch+json; compatible-with=8"
    assert compat_media_type("application/x-ndjson", 8) == "application/vnd.elasticsearch+x-ndjson; compatible-with=8"
    # _cat APIs accept text too; only the JSON part is versioned
    assert compat_media_type("text/plain,application/json", 7) == (
        "text/plain,application/vnd.elasticsearch+json; compatible-with=7"
    )
    versioned = "application/vnd.elasticsearch+json; compatible-with=8"
    assert compat_media_type(versioned, 8) == versioned


def test_compat_headers_rewrites_both_headers_and_adds_accept() -> None:
    out = compat_headers({"Accept": "application/json", "Content-Type": "application/x-ndjson", "x-opaque-id": "a"}, 8)
    assert out == {
        "Accept": "application/vnd.elasticsearch+json; compatible-with=8",
        "Content-Type": "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        "x-opaque-id": "a",
    }
    assert compat_headers(None, 8) == {"accept": "application/vnd.elasticsearch+json; compatible-with=8"}


# --------------------------------------------------------------------------- URL and auth


def test_split_url_takes_the_credentials_out() -> None:
    node, user, password = split_url("https://el%40stic:p%3Ass@es.example.com:9243/prefix/")
    assert (node, user, password) == ("https://es.example.com:9243/prefix", "el@stic", "p:ss")


def test_split_url_defaults_the_port_and_keeps_ipv6() -> None:
    assert split_url("http://localhost")[0] == "http://localhost:9200"
    assert split_url("http://[::1]:9201")[0] == "http://[::1]:9201"


@pytest.mark.parametrize("url", ["ftp://u:hunter2@host", "es.example.com:9200", "http://u:hunter2@:9200"])
def test_split_url_rejects_bad_urls_without_leaking(url: str) -> None:
    with pytest.raises(UsageError) as info:
        split_url(url)
    assert "hunter2" not in str(info.value)


def test_auth_header() -> None:
    assert auth_header(None, None, None) == {}
    basic = auth_header("elastic", "s3cret", None)["authorization"]
    assert base64.b64decode(basic.removeprefix("Basic ")) == b"elastic:s3cret"
    assert auth_header("elastic", "s3cret", "a2V5") == {"authorization": "ApiKey a2V5"}


# --------------------------------------------------------------------------- probe bodies


def test_server_info_from_root() -> None:
    root = {
        "cluster_name": "prod",
        "cluster_uuid": "abc",
        "version": {"number": "8.15.1", "build_flavor": "default"},
    }
    info = server_info_from(root, None, {"number_of_nodes": 3})
    assert info == EsServerInfo(version="8.15.1", cluster_name="prod", cluster_uuid="abc", nodes=3)


def test_server_info_from_nodes_when_root_is_405() -> None:
    nodes = {"_nodes": {"total": 1}, "cluster_name": "test", "nodes": {"n1": {"version": "9.2.0"}}}
    info = server_info_from(None, nodes, None)
    assert (info.version, info.cluster_name, info.nodes, info.distribution) == ("9.2.0", "test", 1, "elasticsearch")


def test_server_info_opensearch() -> None:
    root = {"version": {"distribution": "opensearch", "number": "2.13.0"}, "cluster_name": "os"}
    assert server_info_from(root, None, None).distribution == "opensearch"


def test_server_info_without_version_is_a_source_error() -> None:
    with pytest.raises(SourceError):
        server_info_from(None, None, {"cluster_name": "x", "number_of_nodes": 1})


def test_check_supported_refuses_opensearch_with_what_is_supported() -> None:
    info = EsServerInfo(distribution="opensearch", version="2.13.0")
    with pytest.raises(SourceError) as err:
        check_supported(info, product_header=None, shown_url=SHOWN)
    assert "OpenSearch 2.13.0" in str(err.value)
    assert "Elasticsearch 7.14 or later" in str(err.value)


@pytest.mark.parametrize("version", ["6.8.23", "7.9.3", "7.10.2", "7.13.4"])
def test_check_supported_refuses_old_servers(version: str) -> None:
    with pytest.raises(SourceError) as err:
        check_supported(EsServerInfo(version=version), product_header=None, shown_url=SHOWN)
    assert f"Elasticsearch {version}" in str(err.value)
    assert "supports Elasticsearch 7.14 or later" in str(err.value)


@pytest.mark.parametrize("version", ["7.17.10", "8.0.0", "8.19.3", "9.2.0"])
def test_check_supported_accepts(version: str) -> None:
    check_supported(EsServerInfo(version=version), product_header="Elasticsearch", shown_url=SHOWN)


def test_check_supported_requires_the_product_header() -> None:
    with pytest.raises(SourceError, match="X-Elastic-Product"):
        check_supported(EsServerInfo(version="8.15.0"), product_header=None, shown_url=SHOWN)
    with pytest.raises(SourceError, match="not Elasticsearch"):
        check_supported(EsServerInfo(version="8.15.0"), product_header="Other", shown_url=SHOWN)


# --------------------------------------------------------------------------- errors


def test_wrong_password_is_connection_failed_without_the_secret() -> None:
    body = {
        "error": {
            "type": "security_exception",
            "reason": "unable to authenticate user [elastic] for REST request [/] password=hunter2",
        },
        "status": 401,
    }
    err = probe_failure(401, body, SHOWN, "hunter2")
    assert isinstance(err, ConnectionFailed)
    assert err.exit_code == 4
    assert "authentication failed (HTTP 401)" in err.message
    assert "unable to authenticate user [elastic]" in err.message
    assert "hunter2" not in str(err)


def test_forbidden_names_the_privileges() -> None:
    err = probe_failure(403, {"error": {"type": "security_exception", "reason": "action denied"}}, SHOWN)
    assert isinstance(err, ConnectionFailed)
    assert err.hint is not None and "monitor" in err.hint


def test_source_error_maps_api_errors_and_scrubs_the_api_key() -> None:
    api_key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
    exc = AuthenticationException(
        message="security_exception", meta=_meta(401), body={"error": {"reason": f"bad key {api_key}"}}
    )
    err = source_error(exc, SHOWN, "listing indices", api_key)
    assert isinstance(err, ConnectionFailed)
    assert "while listing indices" in err.message
    assert api_key not in str(err)

    bad = BadRequestError(
        message="media_type_header_exception",
        meta=_meta(400),
        body={
            "error": {
                "type": "media_type_header_exception",
                "reason": "Invalid media-type value on headers [Accept, Content-Type]",
                "caused_by": {"type": "status_exception", "reason": "Accept version must be either version 8 or 7"},
            }
        },
    )
    err = source_error(bad, SHOWN, "searching")
    assert isinstance(err, SourceError)
    assert "HTTP 400" in err.message
    assert "Accept version must be either version 8 or 7" in err.message
