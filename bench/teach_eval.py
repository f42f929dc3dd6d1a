"""Teaching-quality eval: concept coverage, length, examples, and feedback compliance.

    python bench/teach_eval.py --backend local --seed 0 --json out.json
    python bench/teach_eval.py --backend local --prompts prompts/small --notes bench/notes
    python bench/teach_eval.py --backend openai --model gpt-4o-mini --topics photo,recursion

Two sets (issue 11): tune prompts on `--set tuning` (the default: tutor/evaluate/topics.py
with bench/notes/) and report on `--set heldout` (tutor/evaluate/heldout.py with
bench/heldout_notes/, other subjects and notes of other shapes), which you do not look at
while tuning. The issue's targets are measured with full-length answers, `--max-tokens 700`
(the default stays 256 for quick tuning runs):

    python bench/teach_eval.py --set heldout --max-tokens 700 --json heldout-plain.json
    python bench/teach_eval.py --set heldout --max-tokens 700 --notes bench/heldout_notes --json heldout-notes.json
    python bench/teach_eval.py --set heldout --max-tokens 700 --model smollm2 --json heldout-smollm2.json

Coverage is scored with two pattern sets on the same answers: `loose` (bare terms, the
patterns before issue 11) and `strict` (each concept stated with its meaning);
`--patterns loose|strict|both` picks the table's columns (the JSON always has both).
`--rescore FILE.json` scores an earlier run's answers again without the model (add `--json OUT`
to save them rescored), so old and new patterns are compared on identical answers:

    python bench/teach_eval.py --rescore plain.json --json plain-rescored.json
    python bench/teach_eval.py --compare plain.json plain-rescored.json

Grounded runs add the columns cites (the answer cites a passage it was sent, `[x.md §2]`),
rewrite (it presents itself as "a rewritten version of the notes") and copied (share of its
8-word runs copied verbatim from the prompt).

Decoding is greedy (temperature 0) with a fixed seed, so a run is repeatable on one machine.
Results for the embedded model are in BENCHMARKS.md, "Teaching quality".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console

from tutor.config import load_settings
from tutor.errors import TutorError
from tutor.evaluate.report import PATTERNS, results_table
from tutor.evaluate.rescore import kinds_in, load_run, rescore
from tutor.evaluate.runner import FEEDBACK_KINDS, results_json, run_eval, sequential, summarize
from tutor.evaluate.sets import EVAL_SETS, eval_set
from tutor.evaluate.topics import by_name
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("local", "openai"), default="local")
    p.add_argument("--model", help="OpenAI model name, or local: smollm2, a model folder, a .gguf")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--prompts", type=Path, help="prompts folder (default: the shipped prompts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="eval_set", choices=tuple(EVAL_SETS), default="tuning",
                   help="tuning: tune prompts here; heldout: report here, never tune on it")
    p.add_argument("--topics", help="comma-separated parts of topic names or fields (default: all)")
    p.add_argument("--kinds", default=",".join(k.key for k in FEEDBACK_KINDS),
                   help="feedback kinds to run: code,simpler,shorter (empty: explanations only)")
    p.add_argument("--json", type=Path, help="write summary, settings and every answer here")
    p.add_argument("--max-tokens", type=int, default=256,
                   help="answer length cap (default 256; the issue 11 targets use 700)")
    p.add_argument("--repetition-penalty", type=float, default=None)
    p.add_argument("--level", default="intermediate")
    p.add_argument("--notes", type=Path, action="append", help="ground answers in these notes")
    p.add_argument("--passages", type=int, default=4, help="passages per grounded request")
    p.add_argument("--label", default="", help="name for this run in the table title")
    p.add_argument("--patterns", choices=PATTERNS, default="both",
                   help="coverage columns: loose (before issue 11), strict, or both (default)")
    p.add_argument("--rescore", type=Path, metavar="JSON",
                   help="score an earlier --json run's answers again (no model), print the table, and exit")
    p.add_argument("--compare", type=Path, nargs="+", metavar="JSON",
                   help="print a Markdown table comparing earlier --json results, and exit")
    return p.parse_args(argv)


def compare(paths: list[Path]) -> str:
    """One Markdown row per run: set, coverage (loose and strict), words, examples, grade,
    grounding honesty (cites, rewrite, copied), compliance."""
    rows = ["| run | set | prompts | notes | loose | strict | words | example | grade | cites | rewrite | copied "
            "| code | simpler | shorter |",
            "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    pct = lambda v: "-" if v is None else f"{v:.0%}"  # noqa: E731
    for path in paths:
        data = load_run(path)
        s, c = data["summary"], data["summary"].get("compliance", {})
        rows.append(f"| {data.get('label') or path.stem} | {data.get('set', 'tuning')} | {Path(data['prompts']).name} "
                    f"| {'yes' if data['notes'] else 'no'} | {pct(s['coverage'])} | {pct(s.get('strict_coverage'))} "
                    f"| {s['words']:.0f} | {pct(s['example_rate'])} | {s['grade']:.1f} | {pct(s.get('cite_rate'))} "
                    f"| {pct(s.get('rewrite_rate'))} | {pct(s.get('copied'))} "
                    f"| {pct(c.get('code'))} | {pct(c.get('simpler'))} | {pct(c.get('shorter'))} |")
    return "\n".join(rows)


def rescore_file(args: argparse.Namespace) -> int:
    """`--rescore`: the earlier run's answers measured again, as a table (and `--json`)."""
    data = load_run(args.rescore)
    results = rescore(data)
    kinds = kinds_in(results)
    grounded = bool(data.get("notes"))
    title = f"rescored {args.rescore}: {data.get('label') or data.get('model', '')}"
    Console().print(results_table(results, title=title, kinds=kinds, patterns=args.patterns, grounded=grounded))
    summary = summarize(results, kinds)
    Console(stderr=True).print(f"[dim]summary {json.dumps(summary)}[/]")
    if args.json:
        payload = {**data, "rescored_from": str(args.rescore), "summary": summary, "results": results_json(results)}
        write_json(args.json, payload)
    return 0


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    if args.compare or args.rescore:
        try:
            if args.rescore:
                return rescore_file(args)
            print(compare(args.compare))
            return 0
        except (TutorError, KeyError, TypeError, ValueError) as exc:
            console.print(f"[red]error:[/] {exc if isinstance(exc, TutorError) else f'not a teach_eval --json file: {exc!r}'}")
            return getattr(exc, "exit_code", 1)
    try:
        topics = by_name(args.topics.split(",") if args.topics else None, eval_set(args.eval_set))  # before any model loads
        settings = load_settings({"backend": args.backend, "model": args.model, "device": args.device})
        from tutor.backends.select import build_backend

        backend = build_backend(args.backend, settings, notify=console.print)
        prompts = PromptSet(args.prompts)
        keys = [k for k in args.kinds.split(",") if k]
        kinds = [k for k in FEEDBACK_KINDS if k.key in keys]
        options = GenerationOptions(temperature=0, seed=args.seed, max_tokens=args.max_tokens,
                                    repetition_penalty=args.repetition_penalty)
        ground = None
        if args.notes and args.eval_set == "tuning" and any("heldout" in str(n) for n in args.notes):
            console.print("[yellow]warning: held-out notes with the tuning topics; tune on bench/notes, "
                          "and report held-out numbers with --set heldout[/]")
        if args.notes:
            from tutor.notes import Grounding, open_index

            index = open_index(args.notes, warn=lambda m: console.print(f"[yellow]{m}[/]"))

            def ground(topic):  # a lesson's grounding, as `tutor explain --notes` builds it
                return Grounding(index, prompts, k=args.passages).for_topic(topic.name)

        started = time.perf_counter()
        answer_one = sequential(backend)

        def answer_many(requests, options):  # sequential, with a line per answer on stderr
            texts = []
            for i, messages in enumerate(requests, start=1):
                texts.extend(answer_one([messages], options))
                console.print(f"[dim]  {i}/{len(requests)}: {len(texts[-1].split())} words[/]")
            return texts

        results = run_eval(answer_many, prompts, topics, options, kinds=kinds, level=args.level,
                           ground=ground,
                           on_phase=lambda name, n: console.print(f"[dim]{name}: {n} requests[/]"))
        elapsed = time.perf_counter() - started
    except TutorError as exc:
        console.print(f"[red]error:[/] {exc}")
        return getattr(exc, "exit_code", 1)
    title = args.label or f"{backend.name}:{backend.model} set={args.eval_set} prompts={prompts.directory}"
    Console().print(results_table(results, title=title, kinds=kinds, patterns=args.patterns, grounded=bool(args.notes)))
    summary = summarize(results, kinds)
    console.print(f"[dim]{elapsed:.0f} s; summary {json.dumps(summary)}[/]")
    if args.json:
        payload = {
            "label": args.label,
            "set": args.eval_set,
            "backend": backend.name,
            "model": backend.model,
            "prompts": str(prompts.directory),
            "prompts_fingerprint": prompts.fingerprint(),
            "notes": [str(n) for n in args.notes or []],
            "options": {"temperature": 0, "seed": args.seed, "max_tokens": args.max_tokens,
                        "repetition_penalty": args.repetition_penalty},
            "seconds": round(elapsed, 1),
            "summary": summary,
            "results": results_json(results),
        }
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
