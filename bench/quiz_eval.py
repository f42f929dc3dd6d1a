"""Grading accuracy: tutor's own grader on labelled short answers.

    python bench/quiz_eval.py --data bench/quiz_data/own.jsonl --backend local --json out.json
    python bench/quiz_eval.py --data ../shared/data/grading/semeval2013-train.jsonl \
        --corpus scientsbank --part heldout --limit 100 --backend local
    python bench/quiz_eval.py --data FILE --backend openai --model gpt-4o-mini

Each line of FILE has `question`, `reference_answer`, `student_answer` and `label` (correct |
partly | incorrect, or SemEval's correct | contradictory | incorrect with `label_2way`). Every
item is graded with `tutor.quiz.grading.grade_answer`, greedy, exactly as the quiz grades.

SemEval questions are split by a hash of the question text (`tutor.evaluate.grading_metrics`):
20% "tune" (prompt work looked only at these), 80% "heldout" (what BENCHMARKS.md reports).
`--part` picks one (default heldout for SemEval data). `--limit N` takes the same N items of
that part every run. A malformed reply counts as "incorrect" and is counted separately.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tutor.config import load_settings
from tutor.errors import TutorError
from tutor.options import GenerationOptions
from tutor.evaluate.grading_metrics import (
    PREDICTED, accuracy, confusion, macro_f1, sample_order, semeval_part, three_way, two_way,
)
from tutor.prompts import PromptSet
from tutor.quiz.grading import clean_answer, grade_answer
from tutor.quiz.structured import MalformedReply


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="JSONL of labelled answers")
    p.add_argument("--limit", type=int, help="grade only the first N items (in a fixed, mixed order)")
    p.add_argument("--json", type=Path, help="write the summary and one entry per item here")
    p.add_argument("--backend", choices=("local", "openai"), default="local")
    p.add_argument("--model", help="as for `tutor explain --model`")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--corpus", help="SemEval only: beetle or scientsbank")
    p.add_argument("--part", choices=("tune", "heldout", "all"), help="SemEval only (default heldout)")
    p.add_argument("--max-tokens", type=int, default=300)
    p.add_argument("--prompts", type=Path, help="prompts folder (default: the shipped prompts)")
    p.add_argument("--details", action="store_true", help="--json items also carry the grader's reasoning")
    return p.parse_args(argv)


def load_items(args: argparse.Namespace) -> list[dict]:
    items = []
    with args.data.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            item.setdefault("id", f"line-{number}")
            items.append(item)
    semeval = any("label_2way" in item for item in items)
    if semeval:
        part = args.part or "heldout"
        if part != "all":
            items = [i for i in items if semeval_part(i["question"]) == part]
    if args.corpus:
        items = [i for i in items if i.get("corpus") == args.corpus]
    items.sort(key=lambda i: sample_order(str(i["id"])))
    return items[: args.limit] if args.limit else items


def summarize(graded: list[dict], *, semeval: bool) -> dict:
    gold = [g["label"] for g in graded]
    predicted = [g["predicted"] for g in graded]
    gold2 = [g.get("label_2way") or two_way(g["label"]) for g in graded]
    pred2 = [two_way(p) for p in predicted]
    return {
        "items": len(graded),
        "accuracy_2way": accuracy(gold2, pred2),
        "macro_f1_2way": macro_f1(gold2, pred2, ("correct", "incorrect")),
        "macro_f1_3way": three_way(gold, predicted),
        "confusion": confusion(gold, predicted),
        "malformed": sum(g["malformed"] for g in graded),
        "semeval": semeval,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tutor.backends.select import build_backend

    items = load_items(args)
    if not items:
        print("no items to grade", file=sys.stderr)
        return 2
    settings = load_settings({"backend": args.backend, "model": args.model, "device": args.device})
    backend = build_backend(args.backend, settings, notify=lambda m: print(f"note: {m}", file=sys.stderr))
    prompts = PromptSet(args.prompts) if args.prompts else PromptSet()
    options = GenerationOptions(temperature=0.0, max_tokens=args.max_tokens, seed=0)
    graded, started = [], time.perf_counter()
    for n, item in enumerate(items, 1):
        malformed, reasoning = False, ""
        try:
            grade = grade_answer(
                backend, prompts=prompts, question=item["question"], reference=item["reference_answer"],
                answer=clean_answer(item["student_answer"]), options=options,
            )
            predicted, reasoning = grade.verdict, grade.reasoning
        except MalformedReply:
            predicted, malformed = "incorrect", True
        except TutorError as exc:  # an empty answer in the data: the quiz would not grade it either
            print(f"note: {item['id']}: {exc}", file=sys.stderr)
            predicted = "incorrect"
        graded.append({"id": item["id"], "label": item["label"], "label_2way": item.get("label_2way"),
                       "predicted": predicted, "malformed": malformed, "reasoning": reasoning})
        elapsed = time.perf_counter() - started
        print(f"\r{n}/{len(items)} graded, {elapsed / n:.1f} s each", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    summary = summarize(graded, semeval=any(g["label_2way"] for g in graded))
    summary.update(backend=f"{backend.name}:{backend.model}", data=str(args.data), part=args.part,
                   corpus=args.corpus, limit=args.limit, seconds_per_item=(time.perf_counter() - started) / len(items))
    print_summary(summary)
    if args.json:
        document = {"summary": summary,
                    "items": [{"id": g["id"], "label": g["label"], "predicted": g["predicted"],
                               **({"reasoning": g["reasoning"]} if args.details else {})} for g in graded]}
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


def print_summary(summary: dict) -> None:
    three = summary["macro_f1_3way"]
    print(f"{summary['backend']} on {summary['data']} ({summary['items']} items, "
          f"{summary['seconds_per_item']:.1f} s each, {summary['malformed']} malformed)")
    print(f"2-way accuracy {summary['accuracy_2way']:.3f}  macro-F1 {summary['macro_f1_2way']:.3f}"
          + (f"  3-way macro-F1 {three:.3f}" if three is not None else ""))
    print("gold \\ predicted " + "".join(f"{p:>11}" for p in PREDICTED))
    for gold, row in summary["confusion"].items():
        print(f"{gold:<17}" + "".join(f"{row[p]:>11}" for p in PREDICTED))


if __name__ == "__main__":
    sys.exit(main())
