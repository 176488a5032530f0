"""The load's session: its connection's settings and codecs, and its process's garbage collection; the same
on the load's connection and process and on its staging worker's (``staging``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import msgspec

# The batch statements look costly to the planner (temporary tables have no statistics), so it would JIT-
# compile each one: about 0.7 s a statement, more than running it. They are many and short: no JIT.
NO_JIT = "SET jit = off"
FEWER_GC_PASSES = (200_000, 50, 50)  # gc thresholds (see ``fewer_gc_passes``)

encode_json = msgspec.json.Encoder().encode
decode_json = msgspec.json.Decoder().decode


async def binary_jsonb(connection: asyncpg.Connection) -> None:
    """jsonb in binary format (a version byte, then the text): COPY takes binary encoders only."""
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + encode_json(value),
        decoder=lambda data: decode_json(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


async def prepare_session(connection: asyncpg.Connection) -> None:
    """The load's session settings, on its connection and on the staging worker's."""
    await binary_jsonb(connection)
    # Safe for exactly-once: a checkpoint commits with its batch, so a server crash loses both or neither.
    await connection.execute("SET synchronous_commit = off")
    await connection.execute(NO_JIT)


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Decoding makes millions of short-lived dicts with no reference cycles; the cyclic collector would
    scan them over and over (measured: 5.7 µs instead of 35-45 µs a document). Collect rarely instead."""
    threshold = gc.get_threshold()
    gc.set_threshold(*FEWER_GC_PASSES)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
