"""Real-time: events in a table, one supervised LISTEN connection per process, SSE/WebSocket delivery.

See docs/platform.md.
"""

from service.realtime.events import publish

__all__ = ["publish"]
