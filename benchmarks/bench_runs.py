"""What a page load costs the run manager: the history and the queue's promotion over N finished runs.

    python benchmarks/bench_runs.py [--runs 20] [--epochs 15]

Writes N hand-made finished runs (the trainer's event rate for the full 60,000 images: a batch event every
10 of 469 batches, an epoch event per epoch) into a temporary folder, then times runs.history() and
runs.promote() three times: the first load parses every events.jsonl, later loads of unchanged files
do not (training/tail.py's read_progress memo).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training import runs, store  # noqa: E402
from training.owners import LOCAL  # noqa: E402


def make_runs(root: Path, count: int, epochs: int) -> None:
    for k in range(count):
        run_id = f"20260101-000000-{k:06x}"
        record = runs.RunRecord(run_id, "local", "you", runs.TrainConfig(), ("python",), 1e9 + k, "local")
        path = store.create_run(record, root)
        (path / "launch.json").write_text('{"at_unix": 1}')
        (path / "process.json").write_text('{"pid": 1, "create_time": 0, "started_unix": 1}')
        lines = []
        for epoch in range(1, epochs + 1):
            for batch in range(10, 470, 10):
                lines.append(json.dumps({"event": "batch", "epoch": epoch, "batch": batch, "of": 469, "loss": 0.1,
                                         "images_per_s": 1000.0, "eta_s": 10.0}))  # fmt: skip
            lines.append(json.dumps({"event": "epoch", "epoch": epoch, "test_acc": 99.0, "train_loss": 0.1}))
        lines.append(json.dumps({"event": "end", "status": "done"}))
        (path / "events.jsonl").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp()) / "runs"
    make_runs(root, args.runs, args.epochs)
    size = sum(p.stat().st_size for p in root.glob("*/events.jsonl"))
    print(f"{args.runs} finished runs of {args.epochs} epochs, {size / 1e6:.1f} MB of events")
    for load in range(1, 4):
        started = time.perf_counter()
        rows = runs.history(LOCAL, root)
        history_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        runs.promote(root)
        promote_ms = (time.perf_counter() - started) * 1000
        assert len(rows) == args.runs and all(r.status == runs.DONE for r in rows)
        print(f"page load {load}: history {history_ms:6.0f} ms   promote {promote_ms:5.0f} ms")


if __name__ == "__main__":
    main()
