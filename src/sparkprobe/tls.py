"""TLS on the agent's event port: the server context and the handshake-failure hook.

``sparkprobe agent --tls-cert PEM --tls-key PEM`` serves the event port over TLS 1.2 or 1.3; the
listener connects with ``spark.sparkprobe.tls.enabled=true`` and verifies the certificate and the
host name (docs/configuration.md). Clients are authenticated by the token in the hello, which TLS
keeps secret on the way; client certificates are not asked for (docs/decisions.md).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

__all__ = ["counting_handshake_failures", "server_context"]


def server_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server context for the event port: TLS 1.2 or newer, this certificate chain and key.

    Raises OSError (a missing or unreadable file) or ssl.SSLError (not PEM, key not matching).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


def counting_handshake_failures(ctx: ssl.SSLContext, on_failure: Callable[[ssl.SSLError], None]) -> None:
    """Make ``ctx`` report every failed server-side handshake to ``on_failure``.

    asyncio's TLS transport drops a failed handshake quietly (the connection never reaches the
    handler), so the count is taken where the handshake runs: the ``SSLObject`` that asyncio makes
    with ``ctx.wrap_bio`` (``SSLContext.sslobject_class``, a documented hook).
    """

    class _Counting(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise  # not a failure: the handshake needs more bytes
            except ssl.SSLError as exc:
                on_failure(exc)
                raise

    ctx.sslobject_class = _Counting
