"""Structured logs: JSON lines in production, a readable console in development.

structlog writes straight to stdout; the standard library's loggers (granian, alembic, asyncpg) are routed
through the same processors so every line has one shape and carries the request id when there is one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import msgspec
import structlog

from service.web.request_id import add_request_id

_encode = msgspec.json.Encoder().encode


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


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
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
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())

    structlog.configure(
        processors=[*shared, renderer],
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
