"""Re-scoring an earlier run's answers (loose and strict on the same text), the eval sets, and
the grounding-honesty flags, through `bench/teach_eval.py` as the lead runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import FakeBackend
from tests.test_eval_strict import CORRECT, WRONG
from tutor.evaluate.metrics import measure
from tutor.evaluate.runner import results_json, run_eval, sequential, summarize
from tutor.evaluate.sets import eval_set, topic_named
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "teach_eval.py"


def teach_eval(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)}  # the temp TUTOR_HOME of conftest included
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=120)


def saved_run(tmp_path: Path, answers: list[str], names: list[str], **extra) -> Path:
    """A --json file as teach_eval writes it, from scripted answers (explanations only)."""
    topics = [topic_named(n) for n in names]
    results = run_eval(sequential(FakeBackend(*[[a] for a in answers])), PromptSet(), topics,
                       GenerationOptions(temperature=0), kinds=())
    payload = {"label": "scripted", "set": "tuning", "backend": "fake", "model": "fake-1", "prompts": "prompts",
               "notes": [], "summary": summarize(results, ()), "results": results_json(results), **extra}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(payload))
    return path


def test_rescore_shows_loose_and_strict_on_the_same_answers(tmp_path):
    names = ["Gradient descent", "Transformers in machine learning"]
    run = saved_run(tmp_path, [CORRECT[names[0]], WRONG[names[1]]], names)
    out = tmp_path / "rescored.json"

    done = teach_eval("--rescore", str(run), "--json", str(out))

    assert done.returncode == 0, done.stderr
    assert "loose" in done.stdout and "strict" in done.stdout
    rescored = json.loads(out.read_text())
    assert [r["text"] for r in rescored["results"]] == [CORRECT[names[0]], WRONG[names[1]]]
    correct, wrong = (r["metrics"] for r in rescored["results"])
    assert correct["strict_coverage"] == 1.0
    assert wrong["coverage"] >= 0.5 and wrong["strict_coverage"] == 0.0
    assert rescored["summary"]["strict_coverage"] < rescored["summary"]["coverage"]
    assert rescored["rescored_from"] == str(run)


def test_rescore_reads_files_written_before_strict_patterns(tmp_path):
    # The format of the runs in BENCHMARKS.md: metrics without strict fields, no prompt.
    old = {"label": "", "backend": "local", "model": "smollm2", "prompts": "prompts/small", "notes": ["bench/notes"],
           "summary": {"coverage": 0.9}, "results": [{
               "topic": "The Pythagorean theorem", "field": "math", "text": WRONG["The Pythagorean theorem"],
               "metrics": {"coverage": 0.625}, "revisions": {"shorter": {"text": "Sides.", "passed": True}}}]}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    out = tmp_path / "new.json"

    done = teach_eval("--rescore", str(path), "--patterns", "strict", "--json", str(out))

    assert done.returncode == 0, done.stderr
    assert "coverage strict" in done.stdout and "cites" in done.stdout  # grounded run: honesty columns
    result = json.loads(out.read_text())["results"][0]
    assert result["metrics"]["strict_coverage"] < result["metrics"]["coverage"] == 0.625
    assert result["metrics"]["copied"] is None  # no prompt stored: unknown, not zero
    assert result["revisions"]["shorter"]["passed"] is True


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a teach_eval --json file"),
    ('{"results": [{"topic": "Astrology", "text": "x"}]}', "no eval topic is called 'Astrology'"),
    ('[1, 2]', "not a teach_eval --json file"),
])
def test_a_bad_results_file_gets_one_line_and_a_nonzero_exit(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    done = teach_eval("--rescore", str(path))
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_compare_reports_both_coverages_and_the_set(tmp_path):
    run = saved_run(tmp_path, [WRONG["Gradient descent"]], ["Gradient descent"])
    done = teach_eval("--compare", str(run))
    assert done.returncode == 0, done.stderr
    header, _, row = done.stdout.strip().splitlines()
    assert "| loose | strict |" in header and "| tuning |" in row
    assert "| 0% |" in row  # strict coverage of a wrong answer


def test_the_two_sets_do_not_share_topics_or_fields_except_transformers():
    tuning, heldout = eval_set("tuning"), eval_set("heldout")
    assert not {t.name for t in tuning} & {t.name for t in heldout}
    assert {t.field for t in heldout} - {"ML"} and not ({t.field for t in heldout} - {"ML"}) & {t.field for t in tuning}
    assert len(heldout) >= 11 and all(6 <= len(t.concepts) <= 8 for t in heldout if t.field != "ML")
    assert len(topic_named("Transformers in ML").concepts) == 15


def test_citations_count_only_passages_the_prompt_held():
    topic = topic_named("Gradient descent")
    prompt = "[notes/gradient-descent.md §2] The update rule\nThe gradient is ..."
    assert measure("As [gradient-descent.md §2] says, step downhill.", topic, source=prompt).cites
    assert not measure("As [gradient-descent.md §7] says, step downhill.", topic, source=prompt).cites
    # The tutor's own closing line is not the model citing its sources.
    sources_line = "Step downhill.\n\nSources from your notes: [notes/gradient-descent.md §2]"
    assert not measure(sources_line, topic, source=prompt).cites


@pytest.mark.parametrize("answer, rewrite", [
    ("Here's a rewritten version of the notes:\n\nGradient descent ...", True),
    ("Gradient descent minimizes the loss.\n\nRewrite the notes again with no bold formatting.", True),
    ("Here is a rephrased version: gradient descent ...", True),
    ("Gradient descent walks downhill on the loss. Your notes call this the update rule.", False),
    ("Here's a revised explanation, shorter: walk downhill on the loss.", False),
])
def test_answers_that_present_themselves_as_a_rewrite_of_the_notes_are_flagged(answer, rewrite):
    assert measure(answer, topic_named("Gradient descent")).rewrite is rewrite


def test_copied_share_counts_eight_word_runs_taken_from_the_prompt():
    topic = topic_named("Gradient descent")
    notes = "The learning rate (step size) controls how big each step is: too large and the loss diverges."
    copied = measure(notes, topic, source="System.\n\n" + notes)
    own = measure("Think of a hiker walking downhill in fog, one careful step at a time.", topic, source=notes)
    assert copied.copied == 1.0 and own.copied == 0.0
    assert measure(notes, topic).copied is None


def test_topics_are_chosen_from_the_selected_set_before_any_model_loads():
    done = teach_eval("--set", "heldout", "--topics", "pythagorean")  # a tuning topic: not in heldout
    assert done.returncode != 0 and "no eval topic matches pythagorean" in done.stderr
    assert "Traceback" not in done.stderr


def test_grounded_runs_store_the_prompt_and_show_the_honesty_columns():
    from rich.console import Console

    from tutor.evaluate.report import results_table

    passage = "[notes/gd.md §2] The learning rate (step size) controls how big each step is, too large and it diverges."

    class Notes:
        def __init__(self, topic):
            pass

        def wrap_system(self, system):
            return f"{system}\n\n{passage}"

        def wrap(self, request):
            return request

    copy = "Here's a rewritten version of the notes: the learning rate (step size) controls how big each step is [gd.md §2]."
    results = run_eval(sequential(FakeBackend([copy])), PromptSet(), [topic_named("Gradient descent")],
                       GenerationOptions(), kinds=(), ground=Notes)
    m = results[0].metrics
    assert m.cites and m.rewrite and 0.2 < m.copied < 1  # the preamble and the citation are its own words
    assert passage in results_json(results)[0]["prompt"]
    console = Console(width=200, color_system=None, record=True)
    console.print(results_table(results, grounded=True, kinds=()))
    header = console.export_text().splitlines()[1]
    assert all(name in header for name in ("loose", "strict", "cites", "rewrite", "copied"))
