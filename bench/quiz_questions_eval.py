"""Question quality: of the check questions tutor writes, how many can be answered from the
explanation they came from, and how many are yes/no (target: none).

    python bench/quiz_questions_eval.py --backend local --notes 5 --questions 6 --json out.json

The explanations are the notes in bench/notes (plain teaching text). Questions come from
`tutor.quiz.questions.generate_questions`, exactly as `/quiz` writes them. The same model then
judges, given the explanation, whether each question is answerable from it (one call per
explanation, with a quote as evidence); read a sample of the --json output yourself too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from string import Template

from tutor.config import load_settings
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet
from tutor.quiz.questions import generate_questions, is_yes_no
from tutor.quiz.structured import MalformedReply, ask_json

HERE = Path(__file__).parent
CHECK_SCHEMA = {
    "title": "answerability",
    "type": "object",
    "properties": {
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"quote": {"type": "string"}, "answerable": {"type": "string", "enum": ["yes", "no"]}},
                "required": ["quote", "answerable"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["checks"],
    "additionalProperties": False,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("local", "openai"), default="local")
    p.add_argument("--model")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--notes", type=int, default=5, help="how many explanations from bench/notes")
    p.add_argument("--questions", type=int, default=6, help="questions per explanation")
    p.add_argument("--json", type=Path)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tutor.backends.select import build_backend

    settings = load_settings({"backend": args.backend, "model": args.model, "device": args.device})
    backend = build_backend(args.backend, settings, notify=lambda m: print(f"note: {m}", file=sys.stderr))
    options = GenerationOptions(temperature=0.0, seed=0, max_tokens=700)
    check_template = Template((HERE / "quiz_data" / "answerable.md").read_text(encoding="utf-8"))
    rows, malformed, started = [], 0, time.perf_counter()
    for path in sorted((HERE / "notes").glob("*.md"))[: args.notes]:
        explanation = path.read_text(encoding="utf-8")
        try:
            questions = generate_questions(backend, prompts=PromptSet(), topic=path.stem.replace("-", " "),
                                           explanation=explanation, count=args.questions, options=options)
        except MalformedReply as exc:
            malformed += 1
            print(f"note: {path.name}: {exc}", file=sys.stderr)
            continue
        listing = "\n".join(f"{i}. {q.text}" for i, q in enumerate(questions, 1))
        request = check_template.substitute(explanation=explanation, questions=listing)
        try:
            checks = ask_json(backend, [{"role": "user", "content": request}], CHECK_SCHEMA, options,
                              what="answerability check")["checks"]
        except MalformedReply:
            malformed += 1
            checks = []
        for i, question in enumerate(questions):
            check = checks[i] if i < len(checks) else {"answerable": "unknown", "quote": ""}
            rows.append({"explanation": path.name, "difficulty": question.difficulty, "question": question.text,
                         "reference_answer": question.reference_answer, "concept": question.concept,
                         "yes_no": is_yes_no(question.text), "answerable": check["answerable"],
                         "quote": check["quote"]})
        print(f"{path.name}: {len(questions)} questions, {time.perf_counter() - started:.0f} s so far", file=sys.stderr)
    judged = [r for r in rows if r["answerable"] in ("yes", "no")]
    summary = {
        "backend": f"{backend.name}:{backend.model}",
        "questions": len(rows),
        "answerable_share": sum(r["answerable"] == "yes" for r in judged) / len(judged) if judged else None,
        "yes_no_share": sum(r["yes_no"] for r in rows) / len(rows) if rows else None,
        "unjudged": len(rows) - len(judged),
        "malformed": malformed,
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "questions": rows}, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
