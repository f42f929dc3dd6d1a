"""What grounding adds before the first token, on a large notes folder.

    python bench/notes_latency.py --files 1000

Writes a synthetic notes folder (the eval notes in bench/notes plus generated files), indexes it
cold, then times the warm path the CLI takes before it sends a request: refresh the index
(stat every file, load the cache), retrieve passages, render the grounded block.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tutor.notes import Grounding, NotesIndex
from tutor.prompts import PromptSet

HERE = Path(__file__).resolve().parent


def make_folder(root: Path, files: int, seed: int) -> Path:
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice("abcdefghijklmnoprstuvw") for _ in range(rng.randint(3, 10)))
                  for _ in range(20_000)]
    notes = root / "notes"
    shutil.copytree(HERE / "notes", notes)
    for i in range(files - len(list(notes.iterdir()))):
        folder = notes / f"course{i % 20:02d}"
        folder.mkdir(exist_ok=True)
        sections = []
        for s in range(rng.randint(3, 6)):
            words = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(60, 160)))
            sections.append(f"## Section {s}\n\n{words}.")
        (folder / f"note{i:05d}.md").write_text(f"# Note {i}\n\n" + "\n\n".join(sections))
    return notes


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        notes = make_folder(root, args.files, args.seed)
        cache = root / "cache"
        prompts = PromptSet()
        started = time.perf_counter()
        cold = NotesIndex([notes], cache=cache)
        cold.refresh()
        cold_s = time.perf_counter() - started
        warm_times, refresh_times = [], []
        topics = ["Photosynthesis", "Gradient descent", "The French Revolution", "Hash tables",
                  "Newton's laws of motion", "DNA replication", "Recursion in programming"]
        for r in range(args.repeats):
            started = time.perf_counter()
            index = NotesIndex([notes], cache=cache)
            index.refresh()
            refreshed = time.perf_counter()
            topic = topics[r % len(topics)]
            context = Grounding(index, prompts).for_topic(topic)
            request = context.wrap(prompts.render("explain", topic=topic, level="intermediate"))
            warm_times.append(time.perf_counter() - started)
            refresh_times.append(refreshed - started)
            assert context.passages and "§" in request, "the eval notes should match"
        print(f"| notes files | passages | cold index (s) | warm refresh (s) | warm refresh + retrieve + render, median (s) | max (s) |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| {len(index.files)} | {len(index.chunks)} | {cold_s:.2f} | {statistics.median(refresh_times):.3f} "
              f"| {statistics.median(warm_times):.3f} | {max(warm_times):.3f} |")


if __name__ == "__main__":
    main()
