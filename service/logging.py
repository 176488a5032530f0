"""Structured logs: JSON lines in production, a readable console in development.

structlog writes straight to stdout; the standard library's loggers (granian, alembic, asyncpg) are routed
through the same processors so every line has one shape and carries the request id when there is one.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TextIO, cast

import msgspec
import structlog

_encode = msgspec.json.Encoder().encode

# The id of the request being served, set by the edge middleware (service/web/edge.py). Logging owns it, so the
# web layer imports logging and never the other way round. A plain ContextVar is cheaper per request than
# structlog's bind/reset of context variables.
current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def add_request_id(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every line logged while a request runs carries its id."""
    request_id = current_request_id.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def _json_dumps(event: Any, **_: Any) -> str:
    return _encode(event).decode()


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the moment of writing.

    Loggers are cached on first use, so a stream bound at configuration time would outlive any later swap of
    sys.stdout (a test's capture, click's CliRunner) and send every later line to a closed or stale buffer.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


_STDOUT = cast(TextIO, _CurrentStdout())


_configured: dict[str, Any] = {"level": logging.INFO, "format": "console"}


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    _configured.update(level=logging.getLevelNamesMapping()[level], format=fmt)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if fmt == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
    else:
        # Plain tracebacks: rich's pretty ones (with locals) cost about 200 ms an error, enough to turn a burst of
        # failures (a database outage) into a queue behind the logger.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stdout.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

    # A logger is bound on first use (cache_logger_on_first_use) to the list of processors configured then: the
    # list is refilled in place, so loggers cached earlier follow this configuration too (another app started in
    # the process, a test's capture_logs). Their level filter stays the one they were bound with.
    processors = structlog.get_config()["processors"]
    processors[:] = [*shared, renderer]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(_STDOUT),
        cache_logger_on_first_use=True,
    )

    handler = logging.StreamHandler(_STDOUT)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared[:1], structlog.stdlib.add_logger_name, *shared[1:]],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class AccessLine(msgspec.Struct, omit_defaults=True):
    """One access-log line: per request, and per stream (SSE, WebSocket) when it ends."""

    event: str
    method: str
    path: str
    status: int
    duration_ms: float
    user_id: str | None
    request_id: str
    level: str
    timestamp: datetime
    stream: str | None = None  # "websocket" (its status is the handshake's: 101 accepted, 403 refused)
    close_code: int | None = None  # how a WebSocket ended


_encode_line = msgspec.json.Encoder().encode


def _write_json_line(line: AccessLine) -> None:
    """The line as JSON, in one write. The access line is the one log call on every request, so it skips
    structlog's processor chain (about 35 us a line) for a struct encoded by msgspec, with the same fields."""
    data = _encode_line(line) + b"\n"
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text-only stream (a test's capture)
        out.write(data.decode())
        out.flush()
    else:
        buffer.write(data)
        buffer.flush()  # one write(2) per line, like every other line: nothing is left in a buffer at a crash


def _log_with_structlog(line: AccessLine) -> None:
    fields = {name: getattr(line, name) for name in ("method", "path", "status", "duration_ms", "user_id")}
    for name in ("stream", "close_code"):
        if getattr(line, name) is not None:
            fields[name] = getattr(line, name)
    structlog.get_logger("access").info(line.event, request_id=line.request_id, **fields)


def access_log_writer() -> Callable[[AccessLine], None] | None:
    """How to write access lines under the configured logging; None when INFO is off."""
    if _configured["level"] > logging.INFO:
        return None
    return _write_json_line if _configured["format"] == "json" else _log_with_structlog
