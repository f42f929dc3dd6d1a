"""Tables for eval results (Rich), kept apart from the runner so the runner has no UI."""

from __future__ import annotations

from typing import Sequence

from rich.table import Table

from tutor.evaluate.runner import FEEDBACK_KINDS, FeedbackKind, TopicResult, summarize


def _mark(ok: bool) -> str:
    return "yes" if ok else "-"


PATTERNS = ("loose", "strict", "both")


def coverage_columns(patterns: str) -> list[str]:
    """The coverage columns a table shows for `--patterns loose|strict|both`."""
    return ["loose", "strict"] if patterns == "both" else [patterns]


def results_table(
    results: Sequence[TopicResult],
    *,
    title: str = "",
    kinds: Sequence[FeedbackKind] = FEEDBACK_KINDS,
    patterns: str = "both",
    grounded: bool = False,
) -> Table:
    """One row per topic, then a mean row: coverage, words, code, example, grade, feedback passes.

    Args:
        patterns: which coverage to show: "loose" (the patterns before issue 11), "strict", "both".
        grounded: add the grounding columns: cites (the answer cites a passage it was given),
            rewrite (presents itself as a rewrite of the notes), copied (share of its 8-word runs
            copied from the prompt).
    """
    shown = [k for k in kinds if any(k.key in r.revisions for r in results)]
    coverage = coverage_columns(patterns)
    table = Table(title=title or None, title_justify="left")
    table.add_column("topic", justify="left")
    table.add_column("field", justify="left")
    for name in coverage:
        table.add_column(f"coverage {name}" if len(coverage) == 1 else name, justify="right")
    for name, justify in [("words", "right"), ("code", "center"), ("example", "center"), ("grade", "right")]:
        table.add_column(name, justify=justify)
    if grounded:
        for name in ("cites", "rewrite", "copied"):
            table.add_column(name, justify="right")
    for kind in shown:
        table.add_column(kind.key, justify="center")
    for r in results:
        m = r.metrics
        values = {"loose": m.coverage, "strict": m.strict_coverage}
        row = [r.topic.name, r.topic.field, *(f"{values[c]:.0%}" for c in coverage), str(m.words),
               _mark(m.has_code), _mark(m.has_example), f"{m.grade:.1f}"]
        if grounded:
            row += [_mark(m.cites), _mark(m.rewrite), "-" if m.copied is None else f"{m.copied:.0%}"]
        for kind in shown:
            rev = r.revisions.get(kind.key)
            row.append("" if rev is None else ("pass" if rev.passed else "fail"))
        table.add_row(*row)
    s = summarize(results, kinds)
    means = {"loose": s["coverage"], "strict": s["strict_coverage"]}
    mean = ["mean", "", *(f"{means[c]:.0%}" for c in coverage), f"{s['words']:.0f}", f"{s['code_rate']:.0%}",
            f"{s['example_rate']:.0%}", f"{s['grade']:.1f}"]
    if grounded:
        mean += [f"{s['cite_rate']:.0%}", f"{s['rewrite_rate']:.0%}",
                 "-" if s["copied"] is None else f"{s['copied']:.0%}"]
    mean += [f"{s['compliance'].get(k.key, 0):.0%}" for k in shown]
    table.add_section()
    table.add_row(*mean, style="bold")
    return table
