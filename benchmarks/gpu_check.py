"""GPU check: train the classroom design on CUDA to its last epoch, print how fast, check best.pt on the CPU.

    python benchmarks/gpu_check.py                                            # CUDA, all of MNIST, < 8 min
    python benchmarks/gpu_check.py --device cpu --epochs 1 --train-subset 2000   # the same path, short, on a CPU

Uses only what the machine already has (torch with CUDA, the repository, an MNIST copy): no installs, no
downloads. Runs the trainer in this process (training.mnist.train, the code `python -m training.mnist`
runs), so it can read the peak GPU memory. On CUDA the trainer uses bf16 autocast, channels_last, a
torch.compile'd model and data kept on the GPU; the batch is large (512) with the preset's learning rate
scaled by sqrt(512 / 128). Prints: time to the first epoch at >= 99.4 %, time per epoch (the first one
includes compiling), training images/s, peak GPU memory, the last three epochs' accuracy against the goal
(>= 99.4 % in each, under 15 s of training), and whether best.pt loads back on the CPU and scores what the
run said. Stops itself before 8 minutes. Exit code 0 when the checkpoint check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import arch, data  # noqa: E402
from training.config import TrainConfig  # noqa: E402

TIME_LIMIT_S = 7.5 * 60  # the whole script must end within 8 minutes; training stops at this mark
GOAL_TRAIN_S = 15.0  # issue 12: >= 99.4 % in the last 3 epochs in under 15 s of training on an H100/H200
CPU_TOLERANCE = 0.15  # accuracy points between the GPU's bf16 evaluation and the CPU's fp32 one


def find_data(given: str | None) -> Path | None:
    candidates = [given, os.environ.get("MNIST_DIR"), ROOT.parent / "shared/data/mnist", ROOT / "shared/data/mnist",
                  ROOT / "data/mnist"]  # fmt: skip
    for candidate in candidates:
        if candidate and not data.missing_files(Path(candidate)):
            return Path(candidate)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=None, help="default 512 on CUDA, 128 on the CPU")
    parser.add_argument("--train-subset", type=int, default=0, help="first N training images (0: all)")
    parser.add_argument("--test-subset", type=int, default=0, help="first N test images (0: all)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (to compare)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="keep the run folder here (default: a temporary one)")
    args = parser.parse_args()
    started = time.perf_counter()

    import torch

    from training.mnist import EventLog, Stop, evaluate, load_checkpoint, train

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: run with --device cpu for the short CPU check")
        return 1
    folder = find_data(args.data_dir)
    if folder is None:
        print("no MNIST copy found: pass --data-dir (the folder with the four IDX files) or set MNIST_DIR")
        return 1
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu_check_"))
    out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(
        model="classroom", arch=arch.PRESETS["classroom"].line, epochs=args.epochs, device=args.device,
        batch_size=args.batch_size or (512 if args.device == "cuda" else 128), data_dir=str(folder),
        out=str(out), limit_train=args.train_subset, limit_test=args.test_subset, download=False,
        compile=not args.no_compile, log_every=1_000_000,  # no batch read-backs: epoch events only
    )  # fmt: skip
    config.check()
    lr, _ = config.recipe()
    print(f"torch {torch.__version__}, device {args.device}"
          + (f" ({torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda})" if args.device == "cuda" else "")
          + f"; batch {config.batch_size}, peak lr {lr:.3f}, compile {config.compile and args.device == 'cuda'}; "
          f"run folder {out}")  # fmt: skip
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    log = EventLog(out)
    deadline = started + TIME_LIMIT_S
    try:
        result = train(config, log, out, lambda: time.perf_counter() > deadline)
        status = "done"
    except Stop as stopped:
        result, status = stopped.args[0], f"stopped at the {TIME_LIMIT_S / 60:.1f}-minute mark"
    finally:
        log.close()
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    epochs = [e for e in events if e["event"] == "epoch"]
    n_train = args.train_subset or 60_000

    print(f"\n{status}: {len(epochs)} of {config.epochs} epochs")
    elapsed, first_at_goal = 0.0, None
    for e in epochs:
        elapsed += e["seconds"]
        if first_at_goal is None and e["test_acc"] >= arch.TARGET_ACCURACY:
            first_at_goal = (e["epoch"], elapsed)
        print(
            f"  epoch {e['epoch']:>2}  test {e['test_acc']:6.2f}%  {e['seconds']:6.2f} s  (total {elapsed:6.1f} s)"
        )
    if not epochs:
        print("no epoch finished")
        return 1
    later = [e["seconds"] for e in epochs[1:]] or [epochs[0]["seconds"]]
    per_epoch = statistics.median(later)
    print(f"time to the first epoch at >= {arch.TARGET_ACCURACY} %: "
          + (f"{first_at_goal[1]:.1f} s (epoch {first_at_goal[0]})" if first_at_goal else "not reached"))  # fmt: skip
    print(f"time per epoch: first {epochs[0]['seconds']:.2f} s (includes compiling and warm-up), "
          f"then median {per_epoch:.2f} s (training + evaluation)")  # fmt: skip
    print(f"images/s: {n_train / per_epoch:,.0f} training images per second (evaluation time included)")
    if args.device == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB allocated, "
              f"{torch.cuda.max_memory_reserved() / 2**20:,.0f} MiB reserved")  # fmt: skip
    last3 = [e["test_acc"] for e in epochs[-3:]]
    met = len(last3) == 3 and min(last3) >= arch.TARGET_ACCURACY and elapsed < GOAL_TRAIN_S
    print(
        f"last 3 epochs: {' / '.join(f'{a:.2f}' for a in last3)} % in {elapsed:.1f} s of training: "
        f"{'MET' if met else 'MISSED'} (goal: each >= {arch.TARGET_ACCURACY} % in < {GOAL_TRAIN_S:.0f} s)"
    )

    # best.pt back on the CPU: rebuilt from its line, scored in fp32 on the same test images.
    model, checkpoint = load_checkpoint(out / "best.pt", device="cpu")
    mnist = data.load_mnist(folder, download=False)
    test_x, test_y = data.to_device(mnist.test_images, mnist.test_labels, torch.device("cpu"),
                                    args.test_subset or None)  # fmt: skip
    _, cpu_acc = evaluate(model, test_x, test_y)
    ok = checkpoint["arch"] == config.line and abs(cpu_acc - checkpoint["test_acc"]) <= CPU_TOLERANCE
    print(f"best.pt on the CPU: epoch {checkpoint['epoch']}, {cpu_acc:.2f}% (the run said "
          f"{checkpoint['test_acc']:.2f}%): {'OK' if ok else 'MISMATCH'}")  # fmt: skip
    print(f"whole check: {time.perf_counter() - started:.1f} s; result {result}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
