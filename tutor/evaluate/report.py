"""Tables for eval results (Rich), kept apart from the runner so the runner has no UI."""

from __future__ import annotations

from typing import Sequence

from rich.table import Table

from tutor.evaluate.runner import FEEDBACK_KINDS, FeedbackKind, TopicResult, summarize


def _mark(ok: bool) -> str:
    return "yes" if ok else "-"


def results_table(
    results: Sequence[TopicResult], *, title: str = "", kinds: Sequence[FeedbackKind] = FEEDBACK_KINDS
) -> Table:
    """One row per topic, then a mean row: coverage, words, code, example, grade, feedback passes."""
    shown = [k for k in kinds if any(k.key in r.revisions for r in results)]
    table = Table(title=title or None, title_justify="left")
    for name, justify in [("topic", "left"), ("field", "left"), ("coverage", "right"), ("words", "right"),
                          ("code", "center"), ("example", "center"), ("grade", "right")]:
        table.add_column(name, justify=justify)
    for kind in shown:
        table.add_column(kind.key, justify="center")
    for r in results:
        m = r.metrics
        row = [r.topic.name, r.topic.field, f"{m.coverage:.0%}", str(m.words), _mark(m.has_code),
               _mark(m.has_example), f"{m.grade:.1f}"]
        for kind in shown:
            rev = r.revisions.get(kind.key)
            row.append("" if rev is None else ("pass" if rev.passed else "fail"))
        table.add_row(*row)
    s = summarize(results, kinds)
    mean = ["mean", "", f"{s['coverage']:.0%}", f"{s['words']:.0f}", f"{s['code_rate']:.0%}",
            f"{s['example_rate']:.0%}", f"{s['grade']:.1f}"]
    mean += [f"{s['compliance'].get(k.key, 0):.0%}" for k in shown]
    table.add_section()
    table.add_row(*mean, style="bold")
    return table
