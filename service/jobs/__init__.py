"""Durable background jobs on a PostgreSQL queue (pgqueuer). See docs/platform.md."""

from service.jobs.queue import enqueue
from service.jobs.registry import JobContext, job, periodic

__all__ = ["JobContext", "enqueue", "job", "periodic"]
