"""Elasticsearch client layer: one client that talks to Elasticsearch 7.14+, 8.x and 9.x servers.

The 9.x Python client declares ``Accept``/``Content-Type: application/vnd.elasticsearch+json;
compatible-with=9`` on every request, and an 8.x server rejects that (HTTP 400
``media_type_header_exception``: "Accept version must be either version 8 or 7"). Setting
``headers=`` on the client does not help: every API method passes its own
``accept: application/json`` per request, which overrides the client-level header and is then
rewritten to ``compatible-with=9`` (see elastic/elasticsearch-py#2923). So:

1. the server is probed first with *raw transport* requests (no compatibility rewriting, no
   product check): ``GET /``, falling back to ``GET /_nodes/_local`` and ``GET /_cluster/health``
   (``GET /`` answers 405 on some builds, e.g. the integ-test distribution);
2. OpenSearch and Elasticsearch older than 7.14 are refused with a message saying what is supported;
3. when the server's major is older than the client's, the returned client is a
   :class:`PgcElasticsearch` whose :meth:`~PgcElasticsearch.perform_request` rewrites the media
   types to ``compatible-with=<server major>`` *before* the base client sees them (its rewrite only
   touches bare ``application/json``, so the declared version survives).

Secrets: the password is taken out of the URL and passed as ``basic_auth``; the API key goes in an
``Authorization: ApiKey`` header. Every message goes through :func:`~pgconsolidate.config.redact_url`
/ :func:`~pgconsolidate.config.redact_text` with both secrets scrubbed.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import elastic_transport
from elasticsearch import ApiError, Elasticsearch
from elasticsearch._version import __versionstr__ as _CLIENT_VERSION
from elasticsearch.serializer import OrjsonSerializer

from pgconsolidate.config import redact_text, redact_url
from pgconsolidate.errors import ConnectionFailed, PgConsolidateError, SourceError, UsageError
from pgconsolidate.models import Usage as _Usage  # noqa: F401  (models first: models_es imports it, circularly)
from pgconsolidate.models_es import EsServerInfo

CLIENT_MAJOR = int(_CLIENT_VERSION.partition(".")[0])
"""Major version of the installed ``elasticsearch`` Python client (the compatibility it declares)."""

MIN_VERSION = (7, 14)
"""Oldest server accepted: 7.14 is the first to send ``X-Elastic-Product`` (which clients >= 7.14
require on every response) and to accept the ``compatible-with=7`` media types."""

ENV_ES_API_KEY = "PGCONSOLIDATE_ES_API_KEY"
"""Environment variable of ``--es-api-key`` (kept out of URLs, shell history and process lists)."""

SUPPORTED = "Elasticsearch 7.14 or later (8.x and 9.x; tested against 9.2)"

_MEDIA_RE = re.compile(r"^application/(json|x-ndjson|vnd\.mapbox-vector-tile)$")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


# --------------------------------------------------------------------------- pure helpers


def parse_version(version: str) -> tuple[int, int, int]:
    """``'8.15.2'`` -> ``(8, 15, 2)``; ``'9.2.0-SNAPSHOT'`` -> ``(9, 2, 0)``; SourceError when unparsable."""
    m = _VERSION_RE.match(version.strip())
    if m is None:
        raise SourceError(f"cannot parse the Elasticsearch version {version!r}")
    return int(m[1]), int(m[2]), int(m[3] or 0)


def compat_major(server_version: str, client_major: int = CLIENT_MAJOR) -> int | None:
    """The ``compatible-with`` major to declare for this server, or None when the client's default fits.

    A newer server accepts an older client's declaration (9.x accepts ``compatible-with=8``); an
    older server rejects a newer one, so the declaration is lowered to the server's major.
    """
    major = parse_version(server_version)[0]
    return major if major < client_major else None


def compat_media_type(value: str, major: int) -> str:
    """Rewrite each ``application/json``-like part of an Accept/Content-Type value to the vendor type.

    ``'application/json'`` -> ``'application/vnd.elasticsearch+json; compatible-with=8'``; other
    parts (``text/plain``, an already versioned type) are kept as they are.
    """
    parts = []
    for raw in value.split(","):
        part = raw.strip()
        m = _MEDIA_RE.match(part)
        parts.append(f"application/vnd.elasticsearch+{m[1]}; compatible-with={major}" if m else part)
    return ",".join(parts)


def compat_headers(headers: Mapping[str, str] | None, major: int) -> dict[str, str]:
    """Per-request headers with Accept (always) and Content-Type (when present) declaring ``major``."""
    out = dict(headers or {})
    lowered = {k.lower(): k for k in out}
    if "accept" not in lowered:
        out["accept"] = "application/json"
        lowered["accept"] = "accept"
    for name in ("accept", "content-type"):
        key = lowered.get(name)
        if key is not None:
            out[key] = compat_media_type(out[key], major)
    return out


def auth_header(user: str | None, password: str | None, api_key: str | None) -> dict[str, str]:
    """The ``Authorization`` header the probe requests send (the client builds its own the same way)."""
    if api_key:
        return {"authorization": f"ApiKey {api_key}"}
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
        return {"authorization": f"Basic {token}"}
    return {}


def split_url(url: str) -> tuple[str, str | None, str | None]:
    """``http://u:p@h:9200/prefix`` -> (``http://h:9200/prefix``, ``'u'``, ``'p'``); UsageError when bad."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid Elasticsearch URL {shown}: {redact_text(str(exc))}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid Elasticsearch URL {shown}: expected http(s)://[user:password@]host[:port]",
            hint="e.g. https://elastic:PASSWORD@es.example.com:9200",
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    if port is None:
        # The client would otherwise guess 9200 for http *and* https; make it explicit.
        netloc = f"{host}:9200"
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), user, password


def server_info_from(
    root: Mapping[str, Any] | None,
    nodes: Mapping[str, Any] | None,
    health: Mapping[str, Any] | None,
) -> EsServerInfo:
    """Build :class:`EsServerInfo` from whichever probe bodies answered (``GET /``, ``_nodes/_local``, health).

    Raises SourceError when none of them names a version.
    """
    version: str | None = None
    distribution = "elasticsearch"
    cluster_name = ""
    cluster_uuid = ""
    node_count = 0
    if root and isinstance(root.get("version"), Mapping):
        version = str(root["version"].get("number") or "") or None
        distribution = str(root["version"].get("distribution") or "elasticsearch").lower()
        cluster_name = str(root.get("cluster_name") or "")
        cluster_uuid = str(root.get("cluster_uuid") or "")
    if nodes:
        cluster_name = cluster_name or str(nodes.get("cluster_name") or "")
        for node in (nodes.get("nodes") or {}).values():
            if version is None and node.get("version"):
                version = str(node["version"])
            if node.get("distribution"):
                distribution = str(node["distribution"]).lower()
        node_count = int((nodes.get("_nodes") or {}).get("total") or 0)
    if health:
        cluster_name = cluster_name or str(health.get("cluster_name") or "")
        node_count = int(health.get("number_of_nodes") or node_count)
    if version is None:
        raise SourceError("the server answered, but no response named an Elasticsearch version")
    if distribution not in ("elasticsearch", "opensearch"):
        distribution = "elasticsearch"
    return EsServerInfo(
        distribution="opensearch" if distribution == "opensearch" else "elasticsearch",
        version=version,
        cluster_name=cluster_name,
        cluster_uuid=cluster_uuid,
        nodes=node_count,
    )


def check_supported(info: EsServerInfo, *, product_header: str | None, shown_url: str) -> None:
    """Refuse OpenSearch, servers older than :data:`MIN_VERSION`, and servers that are not Elasticsearch."""
    if info.distribution == "opensearch":
        raise SourceError(
            f"{shown_url} is OpenSearch {info.version}; pgconsolidate supports {SUPPORTED}",
            hint="OpenSearch speaks a diverged API (and needs opensearch-py); export to an Elasticsearch "
            "cluster first, or use a snapshot restore into Elasticsearch",
        )
    if parse_version(info.version)[:2] < MIN_VERSION:
        raise SourceError(
            f"{shown_url} runs Elasticsearch {info.version}; pgconsolidate supports {SUPPORTED}",
            hint="older servers neither send X-Elastic-Product nor accept the compatibility media types "
            "the Python client requires; upgrade the cluster (or reindex-from-remote into a newer one)",
        )
    if product_header is not None and product_header != "Elasticsearch":
        raise SourceError(
            f"{shown_url} answered with X-Elastic-Product: {product_header!r}, not Elasticsearch; "
            f"pgconsolidate supports {SUPPORTED}"
        )
    if product_header is None:
        raise SourceError(
            f"{shown_url} claims Elasticsearch {info.version} but sends no X-Elastic-Product header "
            "(a proxy stripping headers, or not Elasticsearch)",
            hint=f"pgconsolidate supports {SUPPORTED}; connect to the cluster directly",
        )


def probe_failure(status: int, body: Any, shown_url: str, *secrets: str | None) -> PgConsolidateError:
    """The error for a probe request that answered ``status`` (401/403 -> ConnectionFailed)."""
    reason = _error_reason(body)
    reason = redact_text(reason, *secrets) if reason else ""
    suffix = f": {reason}" if reason else ""
    if status == 401:
        return ConnectionFailed(
            f"Elasticsearch at {shown_url}: authentication failed (HTTP 401){suffix}",
            hint="check the user:password in the URL, or the API key (--es-api-key / PGCONSOLIDATE_ES_API_KEY)",
        )
    if status == 403:
        return ConnectionFailed(
            f"Elasticsearch at {shown_url}: the credentials are not allowed to read cluster information "
            f"(HTTP 403){suffix}",
            hint="the user needs the 'monitor' cluster privilege and 'view_index_metadata', 'read' on the indices",
        )
    return SourceError(f"Elasticsearch at {shown_url} answered HTTP {status}{suffix}")


def source_error(exc: Exception, shown_url: str, doing: str, *secrets: str | None) -> PgConsolidateError:
    """Map an elasticsearch-py / elastic-transport exception to the tool's error tree (redacted).

    For engines that call the client: ``except (ApiError, TransportError) as exc: raise
    source_error(exc, shown, "reading index logs") from None``.
    """
    if isinstance(exc, ApiError):
        status = exc.meta.status if exc.meta is not None else 0
        if status in (401, 403):
            err = probe_failure(status, exc.body, shown_url, *secrets)
            return type(err)(f"{err.message} while {doing}", hint=err.hint)
        reason = redact_text(_error_reason(exc.body) or str(exc.message), *secrets)
        return SourceError(f"Elasticsearch at {shown_url} failed while {doing}: HTTP {status}: {reason}")
    if isinstance(exc, elastic_transport.TlsError):
        return ConnectionFailed(
            f"TLS handshake with Elasticsearch at {shown_url} failed: {redact_text(str(exc), *secrets)}",
            hint="pass the cluster's CA certificate with --es-ca-file (e.g. config/certs/http_ca.crt)",
        )
    if isinstance(exc, elastic_transport.ConnectionTimeout):
        return ConnectionFailed(f"Elasticsearch at {shown_url} timed out while {doing}")
    if isinstance(exc, elastic_transport.ConnectionError):
        return ConnectionFailed(
            f"cannot reach Elasticsearch at {shown_url}: {redact_text(_root_cause(exc), *secrets)}",
            hint="check the host and port (and http vs https)",
        )
    return SourceError(f"Elasticsearch at {shown_url} failed while {doing}: {redact_text(str(exc), *secrets)}")


def _error_reason(body: Any) -> str:
    """The most specific ``reason`` in an Elasticsearch error body (or the body as text)."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            cause = error.get("caused_by")
            reason = str(error.get("reason") or error.get("type") or "")
            if isinstance(cause, Mapping) and cause.get("reason"):
                reason = f"{reason} ({cause['reason']})"
            return reason
        if isinstance(error, str):
            return error
        return ""
    return str(body)[:200] if body else ""


def _root_cause(exc: BaseException) -> str:
    """The innermost message of a connection error (urllib3 wraps the OS error several times)."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "errors", None) or ()
        cause = inner.__cause__ or inner.__context__ or (nxt[0] if nxt else None)
        if not isinstance(cause, BaseException) or cause is inner:
            break
        inner = cause
    text = str(inner) or type(inner).__name__
    # urllib3's "<urllib3.connection.HTTPConnection object at 0x...>: Failed to establish ..." noise
    return re.sub(r"<[^>]+ object at 0x[0-9a-f]+>:\s*", "", text)


# --------------------------------------------------------------------------- the client


class PgcElasticsearch(Elasticsearch):
    """``Elasticsearch`` that declares the server's major in its media types, and knows the server.

    ``compat`` None: the client's own default (server major >= client major). ``server_info`` is
    what the probe saw.
    """

    compat: int | None = None
    server_info: EsServerInfo | None = None

    def perform_request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any | None = None,
        endpoint_id: str | None = None,
        path_parts: Mapping[str, Any] | None = None,
    ) -> elastic_transport.ApiResponse[Any]:
        """Send the request, first declaring ``compatible-with=<compat>`` when the server is older."""
        if self.compat is not None:
            headers = compat_headers(headers, self.compat)
        return super().perform_request(
            method, path, params=params, headers=headers, body=body, endpoint_id=endpoint_id, path_parts=path_parts
        )

    def options(self, **kwargs: Any) -> Self:
        """Like :meth:`Elasticsearch.options`, keeping the compatibility and server facts."""
        client = super().options(**kwargs)
        client.compat = self.compat
        client.server_info = self.server_info
        return client


def connect_es(
    url: str,
    *,
    ca_file: str | None = None,
    api_key: str | None = None,
    verify_certs: bool = True,
    request_timeout: float = 30.0,
    **client_options: Any,
) -> PgcElasticsearch:
    """Open a client for ``url`` that works against this server's version; probe it first.

    ``url`` is ``http(s)://[user:password@]host[:port][/path-prefix]`` (basic auth from the
    userinfo); ``api_key`` is the encoded API key (``id:key`` base64, as Kibana shows it).
    ``client_options`` go to :class:`elasticsearch.Elasticsearch` (``max_retries``, ...).
    Raises UsageError (bad URL), ConnectionFailed (unreachable, TLS, 401/403) or SourceError
    (OpenSearch, too old, not Elasticsearch); messages are redacted. The server facts are on
    ``client.server_info``.
    """
    node, user, password = split_url(url)
    shown = redact_url(url)
    secrets = (password, api_key)
    kwargs: dict[str, Any] = {
        "hosts": [node],
        "request_timeout": request_timeout,
        "verify_certs": verify_certs,
        # orjson parses search pages ~3x faster than the json module: a copy spends its client CPU
        # mostly decoding pages of _source (the client uses it for the compatibility types too).
        "serializers": {"application/json": OrjsonSerializer()},
        **client_options,
    }
    if ca_file:
        kwargs["ca_certs"] = ca_file
    if not verify_certs:
        kwargs.setdefault("ssl_show_warn", False)
    if api_key:
        kwargs["api_key"] = api_key
    elif user is not None:
        kwargs["basic_auth"] = (user, password or "")
    try:
        client = PgcElasticsearch(**kwargs)
    except (ValueError, TypeError, OSError) as exc:  # bad CA path, bad option
        raise UsageError(
            f"cannot set up the Elasticsearch client for {shown}: {redact_text(str(exc), *secrets)}"
        ) from None
    # A 405 on GET / makes the transport mark the node dead and then alive again on the next
    # request, with a warning each time: expected while probing, so kept out of the terminal.
    pool_log = logging.getLogger("elastic_transport.node_pool")
    level = pool_log.level
    pool_log.setLevel(logging.ERROR)
    try:
        info, product = _probe(client, shown, auth_header(user, password, api_key), secrets)
    except PgConsolidateError:
        client.close()
        raise
    except Exception as exc:
        client.close()
        raise source_error(exc, shown, "probing the server", *secrets) from None
    finally:
        pool_log.setLevel(level)
    try:
        check_supported(info, product_header=product, shown_url=shown)
    except PgConsolidateError:
        client.close()
        raise
    client.compat = compat_major(info.version)
    client.server_info = info
    return client


@contextmanager
def es_client(
    url: str, *, ca_file: str | None = None, api_key: str | None = None, **options: Any
) -> Iterator[PgcElasticsearch]:
    """:func:`connect_es` as a context manager: the client is closed afterwards."""
    client = connect_es(url, ca_file=ca_file, api_key=api_key, **options)
    try:
        yield client
    finally:
        client.close()


def server_info(client: Elasticsearch) -> EsServerInfo:
    """The :class:`EsServerInfo` of a client made by :func:`connect_es` (SourceError otherwise)."""
    info = getattr(client, "server_info", None)
    if not isinstance(info, EsServerInfo):
        raise SourceError("this Elasticsearch client was not opened by pgconsolidate.es.client.connect_es")
    return info


def _probe(
    client: Elasticsearch, shown: str, auth: dict[str, str], secrets: tuple[str | None, ...]
) -> tuple[EsServerInfo, str | None]:
    """Raw transport probes (no compatibility rewrite, no product check): server facts + product header."""
    headers = {"accept": "application/json", **auth}
    product: str | None = None

    def get(path: str) -> Any | None:
        nonlocal product
        meta, body = client.transport.perform_request("GET", path, headers=headers)
        product = product or meta.headers.get("x-elastic-product")
        if meta.status in (401, 403):
            raise probe_failure(meta.status, body, shown, *secrets)
        if 200 <= meta.status < 300 and isinstance(body, Mapping):
            return body
        return None

    root = get("/")
    nodes = health = None
    if root is None or not isinstance(root.get("version"), Mapping):
        # GET / answers 405 on some builds (integ-test distribution) and needs no privilege on
        # others; the nodes info API names the version either way.
        nodes = get("/_nodes/_local?filter_path=_nodes,cluster_name,nodes.*.version,nodes.*.distribution")
    if not (root or nodes):
        health = get("/_cluster/health")
    if not (root or nodes or health):
        raise SourceError(f"{shown} answered, but neither GET /, /_nodes/_local nor /_cluster/health")
    info = server_info_from(root, nodes, health)
    if not info.cluster_uuid:
        state = get("/_cluster/state/metadata?filter_path=metadata.cluster_uuid")
        uuid = ((state or {}).get("metadata") or {}).get("cluster_uuid")
        if uuid:
            info.cluster_uuid = str(uuid)
    if not info.nodes:
        health = health or get("/_cluster/health")
        if health:
            info.nodes = int(health.get("number_of_nodes") or 0)
    return info, product
