"""A bounded load generator for the API on loopback: threads looping over a list of paths,
stopping at a request count or a deadline, whichever comes first. Every answer is handed to a
checker and counted by (path kind, status)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import requests

#: check(path, response) -> None; raises AssertionError on a wrong answer.
Checker = Callable[[str, requests.Response], None]


@dataclass
class LoadResult:
    statuses: Counter[int] = field(default_factory=Counter)
    by_kind: Counter[tuple[str, int]] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)  # the first 50 wrong answers
    wrong_total: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # transport errors by type
    requests: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        parts = [f"{n}x{status}" for status, n in sorted(self.statuses.items())]
        parts += [f"{n}x{kind}" for kind, n in sorted(self.errors.items())]
        return ", ".join(parts)


def kind_of(path: str) -> str:
    return "/" + path.strip("/").split("/")[0].split("?")[0]


class LoadGenerator:
    """`with LoadGenerator(url, paths, check, threads=4):` runs until the block ends (or the
    bounds are hit); `.result` then holds the counts."""

    def __init__(
        self,
        base_url: str,
        paths: Sequence[str],
        check: Checker,
        *,
        threads: int = 4,
        max_requests: int = 200_000,
        max_seconds: float = 900.0,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url
        self.paths = list(paths)
        self.check = check
        self.threads = threads
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._started = 0.0

    def __enter__(self) -> LoadGenerator:
        self._started = time.monotonic()
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> LoadResult:
        self._stop.set()
        for worker in self._workers:
            worker.join(self.timeout + 5)
        self.result.seconds = time.monotonic() - self._started
        return self.result

    def snapshot(self) -> Counter[int]:
        with self._lock:
            return Counter(self.result.statuses)

    def _take(self) -> int | None:
        with self._lock:
            if self.result.requests >= self.max_requests:
                return None
            self.result.requests += 1
            return self.result.requests

    def _run(self, offset: int) -> None:
        session = requests.Session()
        deadline = self._started + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            number = self._take()
            if number is None:
                break
            path = self.paths[(number + offset) % len(self.paths)]
            try:
                answer = session.get(self.base_url + path, timeout=self.timeout)
            except requests.RequestException as exc:
                with self._lock:
                    self.result.errors[type(exc).__name__] += 1
                session.close()
                session = requests.Session()
                continue
            problem = None
            try:
                self.check(path, answer)
            except Exception as exc:  # a checker that breaks is a wrong answer, not a dead thread
                problem = f"{path} -> {answer.status_code}: {exc!r} {answer.text[:300]}"
            with self._lock:
                self.result.statuses[answer.status_code] += 1
                self.result.by_kind[(kind_of(path), answer.status_code)] += 1
                if problem:
                    self.result.wrong_total += 1
                    if len(self.result.wrong) < 50:
                        self.result.wrong.append(problem)
        session.close()
