"""How long `tutor --help` takes, against a bare interpreter start in the same run.

    python bench/startup.py [--runs 20]

Each measure is a fresh process, taken in turns (interpreter, `--help`, imports) so that a
change in the machine's load hits all of them alike. Prints best and median wall time per
measure and the median's ratio to the bare interpreter, then checks that `--help` imports
none of torch, transformers or openai. The import rows say where a model start's seconds go.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

MEASURES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "tutor --help": [sys.executable, "-m", "tutor", "--help"],
    "import typer": [sys.executable, "-c", "import typer"],
    "import openai": [sys.executable, "-c", "import openai"],
    "import torch": [sys.executable, "-c", "import torch"],
    "import torch, transformers": [sys.executable, "-c", "import torch, transformers"],
}
HEAVY = ("torch", "transformers", "openai")
CHECK = "import sys; sys.argv = ['tutor', '--help']\ntry:\n    from tutor.cli.app import main; main()\nexcept SystemExit:\n    pass\n"


def wall_time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def heavy_imports_of_help() -> list[str]:
    probe = CHECK + f"print('imported:', *(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1].split()[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in MEASURES}
    for name, argv in MEASURES.items():
        wall_time(argv)  # warm the file cache
    for _ in range(args.runs):
        for name, argv in MEASURES.items():
            times[name].append(wall_time(argv))
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'measure':30s} {'best s':>8s} {'median s':>9s} {'x python':>9s}   ({args.runs} runs each)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:30s} {min(values):8.3f} {median:9.3f} {median / base:9.2f}")
    heavy = heavy_imports_of_help()
    print(f"\n`tutor --help` imports: {', '.join(heavy) if heavy else 'none of ' + ', '.join(HEAVY)}")


if __name__ == "__main__":
    main()
