"""Staging in a second process: it reads, transforms and COPYs the next batch while the load writes this one.

The transform and asyncpg's COPY encoding are pure Python. In a thread beside the load's event loop they
shared its GIL, and the load waited for the GIL in every round trip (profiled at 1M documents: staging a
batch took 2.5x its CPU time). Here a worker process does both on its own connection, into one of two
unlogged *slot* tables per mapping, so the load's connection only runs the batch's set-based statements.

Exactly-once is unchanged: a slot is scratch, filled and committed by the worker before the load's
transaction reads it; what counts is that transaction, which writes the rows and the checkpoint together.
The two slots alternate: the worker fills slot ``k`` for batch ``i + 2`` only once the load has committed
batch ``i`` (``Stager.batches``). Member ids are resolved in the load's transaction, under its locks
(``resolve_members``), not here. The worker dies with the load (``PR_SET_PDEATHSIG`` on Linux), so a
killed load leaves no writer behind; the next load drops and recreates the slot tables.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from etl.load.session import FEWER_GC_PASSES, prepare_session
from etl.load.sql import Mapping, statements
from etl.load.stages import STAGES, Again, Batch, Batches, Digests, Prepared, stage_batch
from etl.snapshot import Document, Snapshot
from etl.transform import Context
from etl.workers import start_worker
from service.db.pool import connect

SLOTS = 2
# Batches the worker keeps for the load's rare second look (``Stager._prepared``): the one the load writes,
# and the next one, staged meanwhile. Kept as their snapshot lines (a few MB a batch instead of 20-50 MB of
# objects, and nothing to encode), decoded and transformed again when asked for: the transform is a function
# of the document and its position.
KEPT = SLOTS
_decode_document = msgspec.json.Decoder(Document).decode


class Stager:
    """The load's side: one worker process for the whole load, started at the first staged stage."""

    def __init__(self, db: asyncpg.Connection, dsn: str, snapshot: Snapshot, batch_size: int, ctx: Context) -> None:
        self.db = db
        self._args = (dsn, str(snapshot.directory), batch_size, ctx)
        self._executor: ProcessPoolExecutor | None = None

    async def batches(self, mapping: Mapping, position: int) -> AsyncIterator[Batch]:
        """The mapping's batches from ``position`` on, each already in a slot when it is yielded.

        The caller must finish (commit or roll back) a batch before asking for the next one: the worker
        then refills that batch's slot.
        """
        slots = [statements(mapping, slot) for slot in range(SLOTS)]
        for sql in slots:
            for statement in (*sql.drop, *sql.create):
                await self.db.execute(statement)
        await self._call(_open, mapping.name, position)
        slot = 0
        pending = self._call(_next, slot)
        try:
            while (staged := await pending) is not None:
                slot = (slot + 1) % SLOTS
                pending = self._call(_next, slot)  # the other slot's batch was committed before this one
                end, rows, counts, rejects, digests = staged
                yield Batch(end, counts, rows, rejects, digests, slots[(slot - 1) % SLOTS], self._prepared(end))
        finally:
            await asyncio.gather(pending, return_exceptions=True)  # never leave the worker writing a slot

    def _prepared(self, position: int) -> Again:
        return lambda: self._call(_kept, position)

    def _call(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=self._args
            )
        return asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def close(self) -> None:
        """Stop the worker; drop every slot table, also those a killed load left (of stages now done)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        for _, mapping in STAGES:
            for slot in range(SLOTS):
                for statement in statements(mapping, slot).drop:
                    await self.db.execute(statement)


# The worker process's state: one connection, the snapshot, the open stage and its latest batches.
_worker: dict[str, Any] = {}


def _start(dsn: str, directory: str, batch_size: int, ctx: Context) -> None:
    start_worker()
    gc.set_threshold(*FEWER_GC_PASSES)  # for the worker's life: it does nothing else
    loop = asyncio.new_event_loop()
    db = loop.run_until_complete(connect(dsn))
    loop.run_until_complete(prepare_session(db))
    _worker.update(loop=loop, db=db, batches=Batches(db, Snapshot(Path(directory)), batch_size, ctx))


def _open(name: str, position: int) -> None:
    mapping = dict(STAGES)[name]
    _worker.update(
        mapping=mapping,
        source=_worker["batches"].prepared(mapping, position),
        slots=[statements(mapping, slot) for slot in range(SLOTS)],
        analyzed=set(),
        kept=collections.deque(maxlen=KEPT),
    )


def _next(slot: int) -> tuple[Any, ...] | None:
    item = next(_worker["source"], None)
    if item is None:
        return None
    position, prepared, digests, lines = item
    _worker["kept"].append((position, lines, digests))
    sql, analyze = _worker["slots"][slot], slot not in _worker["analyzed"]
    staged = stage_batch(_worker["db"], sql, _worker["mapping"], prepared, digests, analyze)
    rows, counts, rejects, rejected = _worker["loop"].run_until_complete(staged)
    if rows > 0:
        _worker["analyzed"].add(slot)
    return position, rows, counts, rejects, rejected


def _kept(position: int) -> tuple[list[Prepared], Digests]:
    for end, lines, digests in _worker["kept"]:
        if end == position:
            documents = [_decode_document(line) for line in lines]
            return _worker["batches"].transform(_worker["mapping"], documents, end - len(documents), {}), digests
    raise LookupError(f"batch ending at {position} is no longer kept")  # the load asks only for its current one
