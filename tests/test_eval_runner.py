"""The eval runner with a scripted backend: requests sent, metrics and feedback compliance."""

from __future__ import annotations

from tests.fakes import FakeBackend
from tutor.evaluate.report import results_table
from tutor.evaluate.runner import results_json, run_eval, sequential, summarize
from tutor.evaluate.topics import Concept, Topic
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet

TOPICS = [
    Topic("Recursion", "programming", (Concept("base case", (r"base case",)), Concept("stack", (r"\bstack\b",)))),
    Topic("Photosynthesis", "biology", (Concept("chlorophyll", (r"chlorophyll",)), Concept("oxygen", (r"oxygen",)))),
]
LONG = "Recursion needs a base case. " + "It keeps calling itself on smaller inputs until it stops. " * 5


def scripted() -> FakeBackend:
    return FakeBackend(
        [LONG],  # explain, topic 1
        ["Chlorophyll captures light and plants release oxygen as a byproduct of photosynthesis."],
        ["```python\ndef f(n):\n    return 1 if n == 0 else n * f(n - 1)\n```"],  # code: pass
        ["Plants use light."],  # code: fail
        ["A function can call itself. It stops at the base case."],  # simpler: pass
        ["Chlorophyll photosynthesizes electromagnetic radiation, generating biochemical energy."],  # fail
        ["A base case stops it."],  # shorter: pass
        ["Chlorophyll captures light and plants release oxygen as a byproduct of photosynthesis today."],
    )


def test_run_eval_measures_answers_and_compliance():
    backend = scripted()
    results = run_eval(sequential(backend), PromptSet(), TOPICS, GenerationOptions(temperature=0, seed=1))

    assert [r.metrics.coverage for r in results] == [0.5, 1.0]
    assert results[0].revisions["code"].passed and not results[1].revisions["code"].passed
    assert results[0].revisions["simpler"].passed and not results[1].revisions["simpler"].passed
    assert results[0].revisions["shorter"].passed and not results[1].revisions["shorter"].passed
    summary = summarize(results)
    assert summary["compliance"] == {"code": 0.5, "simpler": 0.5, "shorter": 0.5}
    assert summary["coverage"] == 0.75
    # Each revision request carries the explanation and the feedback, through the real prompts.
    revision_request = backend.calls[2]
    assert revision_request[2] == {"role": "assistant", "content": LONG}
    assert "add a Python code example" in revision_request[3]["content"]
    assert all(o.temperature == 0 and o.seed == 1 for o in backend.options)
    assert results_json(results)[1]["revisions"]["shorter"]["passed"] is False


def test_ground_puts_the_notes_into_the_first_turn():
    class Notes:
        def __init__(self, topic):
            self.topic = topic

        def wrap_system(self, system):
            return f"{system}\nNOTES ABOUT {self.topic.name}"

        def wrap(self, request):
            return f"REWORDED {request}"

    backend = FakeBackend(["answer"])
    run_eval(sequential(backend), PromptSet(), TOPICS[:1], GenerationOptions(), kinds=(), ground=Notes)
    assert backend.calls[0][0]["content"].endswith("\nNOTES ABOUT Recursion")
    assert backend.calls[0][1]["content"].startswith("REWORDED Explain this topic")


def test_results_table_shows_topics_and_means():
    from rich.console import Console

    results = run_eval(sequential(scripted()), PromptSet(), TOPICS, GenerationOptions())
    console = Console(width=140, color_system=None, record=True)
    console.print(results_table(results, title="run"))
    text = console.export_text()
    assert "Recursion" in text and "mean" in text and "75%" in text and "pass" in text


def test_small_model_prompts_are_a_complete_prompt_set():
    from tutor.prompts import shipped_prompts_dir

    small = PromptSet(shipped_prompts_dir() / "small")
    assert "Recursion" in small.render("explain", topic="Recursion", level="beginner")
    assert "shorter" in small.render("revise", feedback="shorter", hints=small.hints("shorter"))
    assert small.render("system")
    grounded = dict(passages="[a.md §1] x", notes="x", example_citation="a.md §1", topic="T", request="r")
    assert small.render("grounded", **grounded)
    assert "x" in small.render("grounded_system", system="s", **grounded)
