"""The batching worker: one thread per host that runs whatever steps queued up while
the previous forward ran as one batch, so throughput grows with load and a lone
request waits for nothing."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import cast

import torch

from node.engine.errors import EngineError
from node.engine.session import StepRequest

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 5.0  # how often an idle worker closes timed-out sessions
_STOP = object()


StepBatch = Callable[[Sequence[StepRequest]], "list[torch.Tensor | EngineError]"]


class BatchWorker:
    """Runs ``step_batch`` on whatever queued up; calls ``sweep`` when idle (the host's
    two methods: the worker needs nothing else from it)."""

    def __init__(self, step_batch: StepBatch, sweep: Callable[[], object], name: str) -> None:
        self._step_batch = step_batch
        self._sweep = sweep
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._stopped = False
        self._thread.start()

    def submit(self, request: StepRequest) -> Future[torch.Tensor]:
        future: Future[torch.Tensor] = Future()
        if self._stopped:
            future.set_exception(EngineError("this span host is shut down"))
        else:
            self._queue.put((request, future))
        return future

    def stop(self) -> None:
        self._stopped = True
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=SWEEP_INTERVAL_S)
            except queue.Empty:
                self._sweep()
                continue
            items = [first]
            while True:  # everything that queued up meanwhile joins this batch
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in items)
            work = [item for item in items if item is not _STOP]
            self._run(work)  # type: ignore[arg-type]
            if stop:
                self._fail_pending()
                return

    def _run(self, work: list[tuple[StepRequest, Future[torch.Tensor]]]) -> None:
        live = [(r, f) for r, f in work if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._step_batch([r for r, _ in live])
        except Exception as exc:  # never let the worker die
            log.exception("batch failed")
            results = [EngineError(f"batch failed: {type(exc).__name__}: {exc}")] * len(live)
        for (_, future), result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _fail_pending(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _, future = cast("tuple[StepRequest, Future[torch.Tensor]]", item)
                if future.set_running_or_notify_cancel():
                    future.set_exception(EngineError("this span host is shut down"))
