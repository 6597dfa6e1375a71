"""Reading a run's output while it is written: events.jsonl by byte offset, the end of stdout.log.

The trainer appends one JSON object per line to events.jsonl and flushes it. A reader polls once a
second, so a poll must cost a seek and a small read, never the whole file, and a line the trainer is still
writing must wait for its newline instead of being dropped. Each event is checked here, in one place: an
event whose fields have the wrong types (a hand-edited file, a different trainer, a disk error) is counted
as damaged and left out, so no caller ever compares a str with an int.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

LOG_TAIL_BYTES = 16_384  # how much of stdout.log a tail reads (the end of the file, not all of it)
END_STATUSES = ("done", "failed", "stopped")  # what a trainer's own "end" event may say


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN


def _whole(value: object, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def event_problem(event: object) -> str | None:
    """Why an event cannot be used, or None. Only the fields a reader relies on are checked."""
    if not isinstance(event, dict):
        return "not a JSON object"
    kind = event.get("event")
    if kind == "batch":
        if not (
            _whole(event.get("epoch"), 1) and _whole(event.get("batch"), 1) and _whole(event.get("of"), 1)
        ):
            return "a batch event without whole-number epoch, batch and of"
        if not _number(event.get("loss")):
            return "a batch event without a numeric loss"
        for name in ("images_per_s", "eta_s"):
            if name in event and event[name] is not None and not _number(event[name]):
                return f"a batch event whose {name} is not a number"
    elif kind == "epoch":
        if not _whole(event.get("epoch"), 1):
            return "an epoch event without a whole-number epoch"
        for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
            if name in event and event[name] is not None and not _number(event[name]):
                return f"an epoch event whose {name} is not a number"
    elif kind == "end":
        if event.get("status") not in END_STATUSES:
            return f"an end event whose status is not one of {', '.join(END_STATUSES)}"
        if "error" in event and event["error"] is not None and not isinstance(event["error"], str):
            return "an end event whose error is not text"
    elif kind == "start":
        if "device" in event and not isinstance(event["device"], str):
            return "a start event whose device is not text"
    return None


class EventTail:
    """Reads events.jsonl incrementally: each call returns only the events appended since the last one.

    It remembers a byte offset and keeps an unfinished last line (the trainer may be mid-write) until
    its newline arrives. Lines that are not JSON, or events with wrong types, are skipped; the first such
    problem is kept in `problem` ("line 7: not JSON") for the page to show."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.lines = 0  # complete lines read so far
        self.problem: str | None = None
        self._partial = b""

    def read_new(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self.offset:  # the file was replaced: start again
                    self.offset, self.lines, self.problem, self._partial = 0, 0, None, b""
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        except OSError as error:  # a directory in its place, no permission, an I/O error
            self.problem = self.problem or f"events.jsonl cannot be read: {error.strerror or error}"
            return []
        self.offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        events = []
        for line in lines:
            self.lines += 1
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:  # also UnicodeDecodeError
                self._note(f"events.jsonl line {self.lines} is not JSON")
                continue
            problem = event_problem(event)
            if problem:
                self._note(f"events.jsonl line {self.lines}: {problem}")
                continue
            events.append(event)
        return events

    @property
    def cut_off(self) -> bool:
        """True while the file ends in a line without its newline (normal while the trainer writes it)."""
        return bool(self._partial.strip())

    def _note(self, problem: str) -> None:
        self.problem = self.problem or problem


@dataclass
class RunProgress:
    """What the page draws for one run, built up event by event (see EventTail). Every event it gets
    has passed event_problem(), so the arithmetic below meets only the types it expects."""

    start: dict | None = None  # the "start" event: params, device, config
    last_batch: dict | None = None
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch as a fraction, loss)
    epochs: list[dict] = field(default_factory=list)  # the "epoch" events, in order
    end: dict | None = None

    def add(self, events: list[dict]) -> None:
        for event in events:
            kind = event.get("event")
            if kind == "start":
                self.start = event
            elif kind == "batch":
                self.last_batch = event
                position = event["epoch"] - 1 + event["batch"] / event["of"]
                self.batch_losses.append((position, float(event["loss"])))
            elif kind == "epoch":
                self.epochs.append(event)
            elif kind == "end":
                self.end = event

    def test_accuracies(self) -> list[float]:
        return [e["test_acc"] for e in self.epochs if e.get("test_acc") is not None]

    def epoch_fraction(self) -> float:
        """How far through the current epoch, 0..1."""
        if self.end is not None and self.end.get("status") == "done":
            return 1.0
        batch = self.last_batch
        if not batch or self.epochs and self.epochs[-1]["epoch"] >= batch["epoch"]:
            return 1.0 if self.epochs else 0.0
        return min(1.0, max(0.0, batch["batch"] / batch["of"]))

    def current_epoch(self) -> int:
        epochs = [e["epoch"] for e in ([self.last_batch] if self.last_batch else []) + self.epochs[-1:]]
        return max([0, *epochs])

    def images_per_s(self) -> float | None:
        return (self.last_batch or {}).get("images_per_s")

    def eta_s(self, total_epochs: int, batch_size: int) -> float | None:
        """Seconds left: the trainer's own estimate if it gives one, else the batches still to run at the
        latest speed (evaluation time not counted)."""
        batch, speed = self.last_batch, self.images_per_s()
        if batch and batch.get("eta_s") is not None:
            return float(batch["eta_s"])
        if not batch or not speed or speed <= 0:
            return None
        per_epoch = batch["of"]
        done = (batch["epoch"] - 1) * per_epoch + batch["batch"]
        left = max(0, total_epochs * per_epoch - done)
        return left * batch_size / speed


def read_progress(path: Path) -> tuple[RunProgress, EventTail]:
    """Every event of an events.jsonl, read once; the tail says what was damaged or cut off.

    Memoised on the file's (size, mtime): a page load reads the history of every run, and a finished
    run's file never changes, so it is parsed once per server, not once per load (20 finished 15-epoch
    runs: 650 ms a load before, on this 2-core machine). This is not a stored status: any change to the
    file changes the key. The objects returned are shared: read them, never add to them."""
    try:
        stat = os.stat(path)
        key = (str(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _parsed:
        return _parsed[key]
    tail = EventTail(path)
    progress = RunProgress()
    progress.add(tail.read_new())
    if key is not None:
        if len(_parsed) >= _PARSED_MAX:
            _parsed.pop(next(iter(_parsed)))  # the oldest entry
        _parsed[key] = (progress, tail)
    return progress, tail


_parsed: dict[tuple[str, int, int], tuple[RunProgress, EventTail]] = {}
_PARSED_MAX = 256  # files; a finished run's parse is a few hundred kB at most


def last_event(path: Path) -> dict | None:
    """The file's last complete, well-formed event, reading only its end. The trainer's "end" event is
    always its last line, so this tells a finished run without parsing the whole file."""
    for line in reversed(tail_text(path, lines=3, max_bytes=4096).splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        return None if event_problem(event) else event
    return None


def tail_text(path: Path, lines: int = 30, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The last `lines` lines of a text file, reading only its last `max_bytes` bytes."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except FileNotFoundError:
        return ""
    except OSError as error:
        return f"(the log cannot be read: {error.strerror or error})"
    text = data.decode("utf-8", errors="replace")
    if len(data) == max_bytes and size > max_bytes:  # the first line was cut: drop it
        text = text.split("\n", 1)[-1]
    return "\n".join(text.splitlines()[-lines:])
