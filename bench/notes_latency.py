"""What grounding adds before the first token, on a large notes folder.

    python bench/notes_latency.py --files 1000 [--local]

Writes a synthetic notes folder (the eval notes in bench/notes plus generated files), indexes it
cold, then times the warm path the CLI takes before it sends a request: refresh the index
(stat every file, load the cache), retrieve passages, render the grounded prompt.
`--local` also measures, with the embedded model and the prompts the CLI gives it, time to
first token with and without the notes, in turns in one process: the passages lengthen the
prompt, and reading a longer prompt (prefill) is part of what grounding adds.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tutor.conversation import Conversation
from tutor.notes import Grounding, NotesIndex
from tutor.prompts import PromptSet, shipped_prompts_dir

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
    p.add_argument("--local", action="store_true", help="also time the first token on the embedded model")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        notes = make_folder(root, args.files, args.seed)
        cache = root / "cache"
        prompts = PromptSet(shipped_prompts_dir() / "small")  # what the CLI uses for smollm2
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
            Conversation.start(prompts, topic, "intermediate", notes=context)
            warm_times.append(time.perf_counter() - started)
            refresh_times.append(refreshed - started)
            assert context.passages, "the eval notes should match"
        print(f"| notes files | passages | cold index (s) | warm refresh (s) | warm refresh + retrieve + render, median (s) | max (s) |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(f"| {len(index.files)} | {len(index.chunks)} | {cold_s:.2f} | {statistics.median(refresh_times):.3f} "
              f"| {statistics.median(warm_times):.3f} | {max(warm_times):.3f} |")
        if args.local:
            first_token_table(notes, cache, prompts, topics)


def first_token_table(notes: Path, cache: Path, prompts: PromptSet, topics: list[str]) -> None:
    from tutor.backends.select import local_backend
    from tutor.config import load_settings
    from tutor.options import GenerationOptions

    backend = local_backend(load_settings({"backend": "local"}))
    options = GenerationOptions(temperature=0, max_tokens=1)

    def first_token(notes_folder: Path | None, topic: str) -> tuple[float, int]:
        started = time.perf_counter()
        context = None
        if notes_folder is not None:
            index = NotesIndex([notes_folder], cache=cache)
            index.refresh()
            context = Grounding(index, prompts).for_topic(topic)
        conversation = Conversation.start(prompts, topic, "intermediate", notes=context)
        "".join(backend.stream(conversation.messages, options))
        return time.perf_counter() - started, backend.last_usage.prompt_tokens

    first_token(None, topics[0])  # warm up
    rows = []
    for topic in topics:  # in turns, so a change in the machine's load hits both alike
        (plain_s, plain_tokens), (grounded_s, grounded_tokens) = first_token(None, topic), first_token(notes, topic)
        rows.append((topic, plain_tokens, plain_s, grounded_tokens, grounded_s))
    print(f"\nfirst token on {backend.model}:")
    print("| topic | prompt tokens | first token (s) | with notes: prompt tokens | first token (s) | added (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for topic, pt, ps, gt, gs in rows:
        print(f"| {topic} | {pt} | {ps:.2f} | {gt} | {gs:.2f} | {gs - ps:.2f} |")
    added = [gs - ps for *_, ps, _, gs in rows]
    print(f"| median | | | | | {statistics.median(added):.2f} |")


if __name__ == "__main__":
    main()
