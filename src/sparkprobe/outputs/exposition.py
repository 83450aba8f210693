"""The agent's HTTP endpoint: ``/metrics`` as prometheus_client serves it, plus probes.

``/metrics`` answers as prometheus_client's WSGI app does, so content negotiation (Prometheus text
or OpenMetrics by ``Accept``, prometheus_client's own ``choose_encoder``), gzip (by
``Accept-Encoding``) and ``name[]`` filtering behave exactly as in every other client_python
exporter. The body of the two usual formats (0.0.4 text, OpenMetrics 1.0.0) is written by
:mod:`.textformat`, the same bytes several times faster; any other request (``name[]``, another
escaping or version, a family textformat does not cover) goes to prometheus_client itself. Around
it: a landing page at ``/`` listing the apps held, ``/healthz`` (the process serves) and
``/readyz`` (the agent accepts listener connections), for Kubernetes probes. Optional TLS.
"""

from __future__ import annotations

import functools
import gzip
import html
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client import generate_latest as _plain_latest
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as _openmetrics
from prometheus_client.registry import Collector

from sparkprobe.outputs.textformat import render

__all__ = ["MetricsServer"]

_LANDING = """<!doctype html><html><head><meta charset="utf-8"><title>sparkprobe</title></head>
<body><h1>sparkprobe agent</h1><p>Prometheus metrics: <a href="/metrics">/metrics</a></p>
<p>Applications: {apps}</p></body></html>"""

#: A WSGI start_response / environ pair, as wsgiref passes them.
_StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        return  # scrapes are not worth a log line each


class _Counted:
    """A WSGI body that calls ``on_close`` once the server has sent it (WSGI calls ``close()`` then)."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._body = body
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
        self._on_close()


class _Collected(Collector):
    """Families already collected, for prometheus_client's encoders (a scrape collects once)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _textformat_kind(encoder: Callable[..., bytes]) -> bool | None:
    """Whether ``encoder`` (of ``choose_encoder``) is OpenMetrics 1.0.0, False for 0.0.4, None for another."""
    if encoder is _plain_latest:
        return False
    if (
        isinstance(encoder, functools.partial)
        and encoder.func is _openmetrics.generate_latest
        and not encoder.args
        and encoder.keywords == {"escaping": _openmetrics.UNDERSCORES, "version": "1.0.0"}
    ):
        return True
    return None


class MetricsServer:
    """Serves ``registry`` at ``/metrics``, a landing page, ``/healthz`` and ``/readyz``; optional TLS.

    ``app_names`` lists the apps for the landing page; ``ready`` answers ``/readyz`` (default:
    always ready).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        app_names: Callable[[], list[str]] | None = None,
        ready: Callable[[], bool] | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        """Configure; nothing listens until :meth:`start`."""
        self.registry = registry
        self.certfile = certfile
        self.keyfile = keyfile
        self._app_names = app_names or (lambda: [])
        self._ready = ready or (lambda: True)
        self._metrics_app = make_wsgi_app(registry)
        self._httpd: WSGIServer | None = None
        self.address: tuple[str, int] | None = None
        #: ``/metrics`` responses sent in full (a stopping agent waits for one more: its last scrape).
        self.scrapes_served = 0
        self._scrapes = threading.Condition()

    def _scrape_sent(self) -> None:
        with self._scrapes:
            self.scrapes_served += 1
            self._scrapes.notify_all()

    def wait_for_scrape(self, after: int, timeout_s: float) -> bool:
        """Wait until more than ``after`` scrapes were served in full; False past ``timeout_s``."""
        with self._scrapes:
            return self._scrapes.wait_for(lambda: self.scrapes_served > after, timeout_s)

    def _wsgi(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return _Counted(self._metrics(environ, start_response), self._scrape_sent)
        if path == "/":
            page = _LANDING.format(apps=html.escape(", ".join(self._app_names()) or "none yet")).encode()
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [page]
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path == "/readyz":
            if self._ready():
                start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"ready\n"]
            start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not ready\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found\n"]

    def _metrics(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        """``/metrics``: what prometheus_client's app answers, its body by textformat where it can."""
        if environ.get("REQUEST_METHOD") != "GET" or "name[]" in parse_qs(environ.get("QUERY_STRING", "")):
            return self._metrics_app(environ, start_response)  # type: ignore[no-any-return]  # untyped library
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        openmetrics = _textformat_kind(encoder)
        if openmetrics is None:
            return self._metrics_app(environ, start_response)  # type: ignore[no-any-return]  # untyped library
        families = list(self.registry.collect())
        body = render(families, openmetrics=openmetrics)
        if body is None:  # a family textformat does not write: prometheus_client's encoder, same families
            body = encoder(_Collected(families))
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Bind and serve on a daemon thread; OSError (port in use, bad certificate) is raised here."""
        httpd = make_server(host, port, self._wsgi, server_class=_ThreadingServer, handler_class=_QuietHandler)
        if self.certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            try:
                ctx.load_cert_chain(self.certfile, self.keyfile)
            except (OSError, ValueError):
                httpd.server_close()
                raise
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, name="sparkprobe-metrics", daemon=True).start()
        self.address = (host, httpd.server_address[1])
        return self.address

    @property
    def url(self) -> str:
        """The /metrics URL."""
        assert self.address is not None, "server not started"
        scheme = "https" if self.certfile else "http"
        return f"{scheme}://{self.address[0]}:{self.address[1]}/metrics"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
