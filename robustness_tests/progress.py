"""Progress of long measurements (images/s, time left) as whole terminal lines, with and without xdist.

Without xdist the measuring process owns the terminal and prints directly (`TerminalProgress`). Under
xdist a worker has no terminal: it writes its latest progress to a small file (`FileProgress`, atomic
replace), and the controller's `ProgressRelay` thread prints each update as one whole line of its own,
so pytest's and xdist's output is never cut mid-line by a worker.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


def format_line(label: str, done: int, total: int, seconds: float) -> str:
    rate = done / seconds if seconds > 0 else float("inf")
    left = (total - done) / rate if rate > 0 else float("inf")
    return f"    {label}: {done}/{total} images, {rate:.1f} images/s, ~{left:.0f} s left"


class TerminalProgress:
    """Prints at most one line per `interval` seconds, none for the final count (the result follows)."""

    def __init__(self, terminal: Any, label: str, interval: float):
        self.terminal, self.label, self.interval, self.last = terminal, label, interval, 0.0

    def __call__(self, done: int, total: int, seconds: float) -> None:
        if done >= total or seconds - self.last < self.interval:
            return
        self.last = seconds
        self.terminal.write_line(format_line(self.label, done, total, seconds))


class FileProgress:
    """An xdist worker's progress, for the controller to print: `<directory>/<worker>.json`."""

    def __init__(self, directory: str | os.PathLike, worker: str, label: str, interval: float):
        self.path = Path(directory) / f"{worker}.json"
        self.worker, self.label, self.interval, self.last = worker, label, interval, 0.0

    def __call__(self, done: int, total: int, seconds: float) -> None:
        if done >= total or seconds - self.last < self.interval:
            return
        self.last = seconds
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"label": f"[{self.worker}] {self.label}", "done": done, "total": total,
                                   "seconds": seconds, "stamp": time.time()}))
        tmp.replace(self.path)


class ProgressRelay:
    """Controller thread: every `interval` seconds, one line per worker whose progress changed."""

    def __init__(self, directory: str | os.PathLike, write_line, interval: float):
        self.directory, self.write_line, self.interval = Path(directory), write_line, interval
        self.seen: dict[str, float] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rt-progress", daemon=True)

    def start(self) -> ProgressRelay:
        self.thread.start()
        return self

    def poll(self) -> None:
        for path in sorted(self.directory.glob("*.json")):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being replaced right now: the next poll reads it
            if self.seen.get(path.name) == state["stamp"]:
                continue
            self.seen[path.name] = state["stamp"]
            self.write_line(format_line(state["label"], state["done"], state["total"], state["seconds"]))

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
