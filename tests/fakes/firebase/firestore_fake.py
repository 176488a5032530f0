"""A loopback fake of the Firestore gRPC API (google.firestore.v1.Firestore), holding documents in memory.

It serves what the npm @firestore-emulator/server lacks, so the live extractor's other paths run
against a real gRPC wire: ListCollectionIds, ListDocuments with show_missing, PartitionQuery,
RunQuery with start/end cursors (name order only, the only order the extractor uses; also over
collection groups), BatchGetDocuments and Commit. Any other method answers UNIMPLEMENTED, as does
PartitionQuery when ``partition_query=False``.

For tests: ``fail(method, code, times)`` makes the next calls of a method fail with a status;
``delay`` slows every call down; ``read_times`` records the read_time of each read.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from google.cloud.firestore_v1.types import document, firestore, query, write
from google.protobuf import timestamp_pb2

SERVICE = "google.firestore.v1.Firestore"
DOCS = "/documents"


def _pb(message_type: Any) -> Any:
    return message_type.pb()


def _key(name: str) -> tuple[str, ...]:
    """Name order: the database prefix, then segment by segment."""
    return tuple(name.split("/"))


class FirestoreFake:
    """In-memory documents keyed by full resource name, served over gRPC on 127.0.0.1."""

    def __init__(self, *, partition_query: bool = True) -> None:
        self.partition_query = partition_query
        self.delay = 0.0
        self.docs: dict[str, Any] = {}
        self.calls: Counter[str] = Counter()
        self.read_times: list[tuple[str, int]] = []
        self._failures: dict[str, list[grpc.StatusCode]] = {}
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FirestoreFake:
        handlers = {
            "Commit": grpc.unary_unary_rpc_method_handler(
                self._wrap("Commit", self.commit),
                request_deserializer=_pb(firestore.CommitRequest).FromString,
                response_serializer=_pb(firestore.CommitResponse).SerializeToString,
            ),
            "BatchGetDocuments": grpc.unary_stream_rpc_method_handler(
                self._wrap("BatchGetDocuments", self.batch_get),
                request_deserializer=_pb(firestore.BatchGetDocumentsRequest).FromString,
                response_serializer=_pb(firestore.BatchGetDocumentsResponse).SerializeToString,
            ),
            "RunQuery": grpc.unary_stream_rpc_method_handler(
                self._wrap("RunQuery", self.run_query),
                request_deserializer=_pb(firestore.RunQueryRequest).FromString,
                response_serializer=_pb(firestore.RunQueryResponse).SerializeToString,
            ),
            "ListCollectionIds": grpc.unary_unary_rpc_method_handler(
                self._wrap("ListCollectionIds", self.list_collection_ids),
                request_deserializer=_pb(firestore.ListCollectionIdsRequest).FromString,
                response_serializer=_pb(firestore.ListCollectionIdsResponse).SerializeToString,
            ),
            "ListDocuments": grpc.unary_unary_rpc_method_handler(
                self._wrap("ListDocuments", self.list_documents),
                request_deserializer=_pb(firestore.ListDocumentsRequest).FromString,
                response_serializer=_pb(firestore.ListDocumentsResponse).SerializeToString,
            ),
            "PartitionQuery": grpc.unary_unary_rpc_method_handler(
                self._wrap("PartitionQuery", self.partition),
                request_deserializer=_pb(firestore.PartitionQueryRequest).FromString,
                response_serializer=_pb(firestore.PartitionQueryResponse).SerializeToString,
            ),
        }
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        self._server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- test controls -------------------------------------------------------------------------

    def fail(self, method: str, code: grpc.StatusCode, times: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([code] * times)

    def paths(self, project: str) -> list[str]:
        prefix = f"projects/{project}/databases/(default){DOCS}/"
        return sorted(name.removeprefix(prefix) for name in self.docs if name.startswith(prefix))

    def _wrap(self, method: str, handler: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            with self._lock:
                self.calls[method] += 1
                pending = self._failures.get(method)
                code = pending.pop(0) if pending else None
            if self.delay:
                time.sleep(self.delay)
            if code is not None:
                context.abort(code, f"injected {code.name} for {method}")
            if "read_time" in request.DESCRIPTOR.fields_by_name and request.HasField("read_time"):
                self.read_times.append((method, request.read_time.seconds))
            return handler(request, context)

        return call

    # -- writes --------------------------------------------------------------------------------

    def commit(self, request: Any, context: grpc.ServicerContext) -> Any:
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        results = []
        with self._lock:
            for w in request.writes:
                self._apply(w, now)
                results.append(_pb(write.WriteResult)(update_time=now))
        return _pb(firestore.CommitResponse)(write_results=results, commit_time=now)

    def _apply(self, w: Any, now: Any) -> None:
        if w.HasField("delete"):
            self.docs.pop(w.delete, None)
            return
        if not w.HasField("update"):
            raise ValueError("the fake applies update and delete writes only")
        previous = self.docs.get(w.update.name)
        doc = _pb(document.Document)()
        doc.CopyFrom(w.update)
        if w.HasField("update_mask") and previous is not None:
            merged = _pb(document.Document)()
            merged.CopyFrom(previous)
            for field in w.update_mask.field_paths:
                if field in w.update.fields:
                    merged.fields[field].CopyFrom(w.update.fields[field])
                else:
                    merged.fields.pop(field, None)
            doc = merged
        doc.create_time.CopyFrom(previous.create_time if previous is not None else now)
        doc.update_time.CopyFrom(now)
        self.docs[w.update.name] = doc

    # -- reads ---------------------------------------------------------------------------------

    def batch_get(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        response = _pb(firestore.BatchGetDocumentsResponse)
        for name in request.documents:
            found = self.docs.get(name)
            yield response(found=found, read_time=now) if found is not None else response(missing=name, read_time=now)

    def _matching(self, parent: str, selector: Any) -> list[str]:
        """Names a query's ``from`` selects under ``parent``, in name order."""
        cid = selector.collection_id
        names = []
        for name in self.docs:
            collection_path, _ = name.rsplit("/", 1)
            if selector.all_descendants:
                ok = collection_path.rsplit("/", 1)[-1] == cid and collection_path.startswith(parent + "/")
            else:
                ok = collection_path == f"{parent}/{cid}"
            if ok:
                names.append(name)
        return sorted(names, key=_key)

    def run_query(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        q = request.structured_query
        if len(q.from_) != 1 or q.HasField("where") or any(o.field.field_path != "__name__" for o in q.order_by):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the fake serves name-ordered queries without filters")
        names = self._matching(request.parent, q.from_[0])
        names = _apply_cursors(
            names, q.start_at if q.HasField("start_at") else None, q.end_at if q.HasField("end_at") else None
        )
        if q.HasField("limit"):
            names = names[: q.limit.value]
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        response = _pb(firestore.RunQueryResponse)
        if not names:
            yield response(read_time=now)
        for name in names:
            yield response(document=self.docs[name], read_time=now)

    def _children(self, parent: str) -> set[str]:
        """Collection ids directly under ``parent`` (a document name, or the ``.../documents`` root)."""
        ids = set()
        for name in self.docs:
            if name.startswith(parent + "/"):
                ids.add(name[len(parent) + 1 :].split("/", 1)[0])
        return ids

    def list_collection_ids(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _pb(firestore.ListCollectionIdsResponse)(collection_ids=sorted(self._children(request.parent)))

    def list_documents(self, request: Any, context: grpc.ServicerContext) -> Any:
        collection = f"{request.parent}/{request.collection_id}"
        names = set()
        for name in self.docs:
            if name.startswith(collection + "/"):
                rest = name[len(collection) + 1 :].split("/")
                if len(rest) == 1 or request.show_missing:
                    names.add(f"{collection}/{rest[0]}")
        ordered = sorted(names, key=_key)
        if request.page_token:
            ordered = [n for n in ordered if _key(n) > _key(request.page_token)]
        page = ordered[: request.page_size or 300]
        docs = [_pb(document.Document)(name=n) for n in page]
        token = page[-1] if len(page) < len(ordered) else ""
        return _pb(firestore.ListDocumentsResponse)(documents=docs, next_page_token=token)

    def partition(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not self.partition_query:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "PartitionQuery is not implemented")
        q = request.structured_query
        if not q.from_[0].all_descendants:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "partition queries need a collection group")
        names = self._matching(request.parent, q.from_[0])
        count = max(1, min(request.partition_count, len(names)))
        step = len(names) / count
        points = [names[round(i * step)] for i in range(1, count)]
        cursors = [_pb(query.Cursor)(values=[_pb(document.Value)(reference_value=p)]) for p in points]
        return _pb(firestore.PartitionQueryResponse)(partitions=cursors)


def _apply_cursors(names: list[str], start: Any, end: Any) -> list[str]:
    def bound(cursor: Any) -> tuple[str, ...]:
        return _key(cursor.values[0].reference_value)

    if start is not None:
        names = (
            [n for n in names if _key(n) >= bound(start)]
            if start.before
            else [n for n in names if _key(n) > bound(start)]
        )
    if end is not None:
        names = (
            [n for n in names if _key(n) < bound(end)] if end.before else [n for n in names if _key(n) <= bound(end)]
        )
    return names
