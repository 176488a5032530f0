"""Before `reachimpact serve` binds: refuse a port that is taken, and say where the docs are."""

from __future__ import annotations

import errno
import socket

from service.config import ConfigError

DOCS_PATH = "/schema"


def check_port_free(host: str, port: int) -> None:
    """Raise ConfigError (one line naming the port) when host:port cannot be bound.

    granian binds with SO_REUSEPORT, so without this check a second server on a taken port starts quietly and
    the kernel splits the connections between the two. The probe binds without SO_REUSEPORT, which a listening
    socket refuses; SO_REUSEADDR keeps a just-stopped server's TIME_WAIT connections from counting as taken.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} on {host} is already in use (another server?); choose --port or PORT"
            raise ConfigError(message) from None
        raise ConfigError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None


def docs_url(host: str, port: int) -> str:
    """The interactive API docs, as a browser on this machine reaches them."""
    # A wildcard bind is reached through loopback; "0.0.0.0" here is a name to translate, not a bind (S104).
    reachable = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)  # noqa: S104
    return f"http://{reachable}:{port}{DOCS_PATH}"
