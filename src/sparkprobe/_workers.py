"""Worker processes that read logs in parallel, each in bounded memory, surviving their own deaths.

Each worker is a process of its own (``spawn``: nothing of the parent's state is inherited) that
takes one task at a time, runs the pool's ``work`` function on it and answers with its result
(``fleet``: a log's row; ``analyze --jobs``: a log's report). A worker's address space can be
capped (``RLIMIT_AS``): a log that needs more fails with "out of memory" instead of taking the
machine. A worker that dies anyway (killed, a crash in a native library) is replaced, and the
task it held gets the result ``on_death`` makes of it; the other tasks go on.
``concurrent.futures`` marks the whole pool broken when one worker dies, and
``multiprocessing.Pool`` waits forever for the lost task, hence this small pool.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Final, Generic, TypeVar

__all__ = ["Workers"]

Task = TypeVar("Task")
Result = TypeVar("Result")
_Pool = TypeVar("_Pool", bound="Workers[Any, Any]")


def _worker_main(conn: Connection, work: Callable[[Any], Any], memory_bytes: int) -> None:
    """A worker's loop: task in, result out, until told to stop (None) or the parent goes away."""
    # The parent handles Ctrl-C for the whole run (a terminal sends SIGINT to every process of
    # its group): a worker must not die of it halfway through a log the parent still counts.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_bytes > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(work(task))


@dataclass(slots=True)
class _Worker:
    process: Any
    conn: Connection
    task: Any = None
    answered: int = 0

#: Workers in a row that died before answering anything: past this, workers cannot start at all
#: (a broken installation), and the run stops instead of failing every log.
_MAX_STILLBORN: Final = 3


class Workers(Generic[Task, Result]):
    """``jobs`` worker processes running ``work``; :meth:`map` yields results as they come (in any order).

    ``work`` runs in the workers, so it must be picklable (a module-level function, or a
    ``functools.partial`` of one); ``on_death(task, how)`` runs here and makes the result of a
    task whose worker died. ``memory_bytes`` > 0 caps each worker's address space.
    """

    def __init__(
        self,
        jobs: int,
        work: Callable[[Task], Result],
        on_death: Callable[[Task, str], Result],
        memory_bytes: int = 0,
        name: str = "sparkprobe-worker",
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, not {jobs}")
        self.jobs = jobs
        self.work = work
        self.on_death = on_death
        self.memory_bytes = memory_bytes
        self.name = name
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        #: Workers that died while reading a log (and were replaced).
        self.deaths = 0
        self._stillborn = 0

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main, args=(child, self.work, self.memory_bytes), daemon=True, name=self.name,
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def map(self, tasks: Iterable[Task]) -> Iterator[Result]:
        """Run every task; yield each result as soon as its worker answers."""
        pending = deque(tasks)
        while len(self._workers) < min(self.jobs, max(1, len(pending))):
            self._workers.append(self._start())
        for worker in self._workers:
            self._give(worker, pending)
        while any(w.task is not None for w in self._workers):
            waitables: dict[Any, _Worker] = {}
            for w in self._workers:
                if w.task is not None:
                    waitables[w.conn] = w
                    waitables[w.process.sentinel] = w
            for ready in wait(list(waitables)):
                worker = waitables[ready]
                if worker.task is None:
                    continue  # answered and died in the same wait: handled once
                result = self._receive(worker)
                if result is None:
                    continue
                yield result
                self._give(worker, pending)

    def _give(self, worker: _Worker, pending: deque[Task]) -> None:
        if not pending:
            return
        worker.task = pending.popleft()
        for _ in range(2):
            if not worker.process.is_alive():  # died between two logs: nobody's fault
                self._replace(worker)
            try:
                worker.conn.send(worker.task)
                return
            except OSError:
                continue
        raise RuntimeError("cannot start a worker process")

    def _replace(self, worker: _Worker) -> None:
        worker.process.join()
        worker.conn.close()
        fresh = self._start()
        worker.process, worker.conn = fresh.process, fresh.conn

    def _receive(self, worker: _Worker) -> Result | None:
        """The worker's answer; on its death, ``on_death``'s result for its task (and a fresh worker in its place)."""
        task = worker.task
        assert task is not None
        try:
            if worker.conn.poll():
                result: Result = worker.conn.recv()
                worker.task = None
                worker.answered += 1
                self._stillborn = 0
                return result
        except (EOFError, OSError):
            pass
        if worker.process.is_alive():
            return None  # woken by a sentinel race; the answer comes later
        worker.process.join()
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self.deaths += 1
        if worker.answered == 0:
            self._stillborn += 1
            if self._stillborn >= _MAX_STILLBORN:
                raise RuntimeError(f"worker processes die before finishing any task ({how}): see their stderr")
        self._replace(worker)
        worker.answered = 0
        worker.task = None
        return self.on_death(task, how)

    def close(self) -> None:
        """Stop every worker: politely, then for good (an interrupted run does not wait for logs)."""
        for worker in self._workers:
            if worker.task is None:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in self._workers:
            worker.process.join(timeout=2 if worker.task is None else 0)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            if worker.process.is_alive():
                os.kill(worker.process.pid, signal.SIGKILL)
                worker.process.join()
            worker.conn.close()
        self._workers.clear()

    def __enter__(self: _Pool) -> _Pool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
