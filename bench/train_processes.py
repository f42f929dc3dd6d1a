"""ms/iter of `tutor train` in one process against two processes under torchrun (gloo, CPU).

    python bench/train_processes.py [DATA] [--steps 200] [--rounds 2] [--preset shakespeare-char]

Every run has the same global batch (2 micro-batches per step): one process with
`--grad-accum 2`, or two processes with one micro-batch each. Runs alternate, `--rounds`
times each, so load from other work hits both alike; the table has the median of each
configuration's `ms_per_step` (training steps only, from training.json) and the ratio.
DATA defaults to ../shared/data/tinyshakespeare.txt relative to the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(label: str, launcher: list[str], data: Path, out: Path, args: argparse.Namespace, extra: list[str]) -> dict:
    command = [*launcher, "-m", "tutor", "train", str(data), "--out", str(out), "--overwrite", "--preset", args.preset,
               "--steps", str(args.steps), "--eval-every", str(args.steps), "--no-checkpoint", *extra]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"{label} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    summary = json.loads((out / "training.json").read_text())
    return {"ms": summary["ms_per_step"], "val": summary["final_val_loss"], "threads": summary["threads"],
            "wall": time.perf_counter() - t}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(REPO.parent / "shared/data/tinyshakespeare.txt"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--preset", default="shakespeare-char")
    parser.add_argument("--out", default=str(REPO / "out/bench-processes"))
    parser.add_argument("--with-two-threads", action="store_true",
                        help="also one process on 2 threads (on a loaded machine this one is very slow)")
    args = parser.parse_args()
    data, work = Path(args.data), Path(args.out)
    if not data.is_file():
        sys.exit(f"{data} not found; pass a text file")
    python = [sys.executable]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    configs = {
        "1 process, 1 thread, --grad-accum 2": (python, ["--grad-accum", "2", "--threads", "1"]),
        "2 processes (torchrun, gloo), 1 thread each": (torchrun, ["--threads", "1"]),
    }
    if args.with_two_threads:
        configs["1 process, 2 threads, --grad-accum 2"] = (python, ["--grad-accum", "2", "--threads", "2"])
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {len(os.sched_getaffinity(0))} usable cores · "
          f"load {load[0]:.1f} at start")  # fmt: skip
    print(f"command: python bench/train_processes.py {' '.join(sys.argv[1:])}\n")
    results: dict[str, list[dict]] = {name: [] for name in configs}
    for r in range(args.rounds):
        for i, (name, (launcher, extra)) in enumerate(configs.items()):
            results[name].append(run(name, launcher, data, work / f"run{i}", args, extra))
            print(f"  round {r + 1}: {name}: {results[name][-1]['ms']:.1f} ms/iter", flush=True)
    base = statistics.median(x["ms"] for x in results[next(iter(configs))])
    print(f"\n{args.preset}, {args.steps} steps, global batch = 2 micro-batches per step, median of {args.rounds} rounds\n")
    print("| configuration | ms/iter | vs 1 process, 1 thread | val loss at the end | wall s (incl. start-up) |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        ms = statistics.median(x["ms"] for x in runs)
        print(f"| {name} | {ms:.1f} | {base / ms:.2f}x | {statistics.median(x['val'] for x in runs):.4f} | "
              f"{statistics.median(x['wall'] for x in runs):.1f} |")  # fmt: skip
    print(f"\nload {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
