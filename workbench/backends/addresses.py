"""What answers at a cluster address, found out before a backend's own client connects.

Given the wrong address, the clients misbehave for a long time: Dask's retries for a minute
or more, waits forever on an HTTP port (its dashboard's), and reads another protocol's bytes
as the size of a message ("Unable to allocate 3.01 EiB"); Ray's never returns. So workbench
looks first, within a few seconds: a Dask scheduler greets a new connection with its
handshake, a Ray head (a gRPC server) with an HTTP/2 SETTINGS frame, an HTTP server answers a
``HEAD`` request; anything else is named by what it said.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from ..errors import BackendError

DASK = "a Dask scheduler"
GRPC = "a gRPC server"
HTTP = "an HTTP server"
SILENT = "a service that said nothing"
#: Seconds to connect, and to wait for each answer.
CONNECT_TIMEOUT = 5.0
ANSWER_TIMEOUT = 2.0


def split(address: str) -> tuple[str, str | None, int | None]:
    """``(scheme, host, port)`` of ``[scheme://]host:port`` (``tcp`` without a scheme)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        return parts.scheme, parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        return parts.scheme, parts.hostname, None


def identify(host: str, port: int) -> str:
    """What listens at ``host:port`` (one of the names above, or what it said)."""
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
        sock.settimeout(ANSWER_TIMEOUT)
        first = _receive(sock)
        if first:
            return _kind(first)
        try:
            sock.sendall(b"HEAD / HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
        except OSError:
            return SILENT
        reply = _receive(sock)
        return _kind(reply) if reply else SILENT


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(512)
    except OSError:  # timeout, reset
        return b""


def _kind(data: bytes) -> str:
    if b"pickle-protocol" in data or b"compression" in data:
        return DASK
    if len(data) >= 9 and data[3] == 4 and data[5:9] == b"\0\0\0\0":  # HTTP/2 SETTINGS
        return GRPC
    if data.startswith(b"HTTP/"):
        return HTTP
    if data.startswith(b"SSH-"):
        return "an SSH server"
    said = data[:40].decode("ascii", "replace")
    said = "".join(c if c.isprintable() else "." for c in said)
    return f"a service that said {said!r}"


def check(address: str, expected: str, what: str, hint: str,
          probe_schemes: tuple[str, ...]) -> None:
    """Raise a one-line :class:`BackendError` unless ``expected`` answers at ``address``
    (only reachability is checked for schemes not in ``probe_schemes``, e.g. TLS)."""
    scheme, host, port = split(address)
    if scheme in ("http", "https"):
        raise BackendError(f"{address} is a web address, not a {what}'s: {hint}")
    if not host or not port:
        return  # "auto", a file path, ...: let the backend's client decide
    try:
        kind = identify(host, port) if scheme in probe_schemes else expected
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BackendError(f"no {what} answered at {address} ({reason}): {hint}") from None
    if kind != expected:
        raise BackendError(f"{address} is not a {what}: {kind} answered there; {hint}")
