"""`tutor quiz` and `tutor review` on bad input: one line, no traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from fakes import FakeBackend
from quiz_scripts import make_due_card
from tutor.cli.app import app
from tutor.cli.deps import Dependencies
from tutor.history.store import HistoryStore


def run(args, *, backend=None, tty=True, input=None):
    backend = backend or FakeBackend(["# Title\n\nBody."])
    deps = Dependencies(build_backend=lambda choice, settings, **kwargs: backend, stdin_is_tty=lambda: tty)
    return CliRunner().invoke(app, args, obj=deps, input=input), backend


def one_error_line(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_review_with_no_history_says_so_in_one_line():
    result, backend = run(["review"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr.strip() == "nothing to review: no quiz has made review cards yet (/quiz in a lesson, or tutor quiz TOPIC)"
    assert backend.calls == []


def test_review_with_nothing_due_says_so_in_one_line():
    run(["explain", "X", "--no-feedback"])
    result, backend = run(["review", "--topic", "X"])
    assert result.exit_code == 0
    assert result.stderr.strip() == "nothing to review on 'X': no cards are due"
    assert len(backend.calls) == 0


def test_a_quiz_on_a_lesson_with_no_explanation_yet():
    store = HistoryStore.open()
    lesson_id = store.new_lesson(topic="Gravity", level="beginner", backend="openai", model="m", prompts="p",
                                 messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])
    store.close()
    result, backend = run(["quiz", lesson_id])
    assert one_error_line(result) == f"error: lesson {lesson_id} has no explanation yet: tutor resume {lesson_id} asks for it"
    assert result.exit_code == 2
    assert backend.calls == []


def test_quiz_command_argument_errors_keep_the_lesson_going():
    result, backend = run(["explain", "X"], input="/quiz 0\n/quiz many\n\n")
    assert result.exit_code == 0
    assert "error: a quiz has 1 to 10 questions, not 0" in result.stderr
    assert "error: usage: /quiz [N], with N from 1 to 10" in result.stderr
    assert len(backend.calls) == 1


def test_reveal_outside_socratic_mode_is_explained():
    result, _ = run(["explain", "X"], input="/reveal\n\n")
    assert result.exit_code == 0
    assert "error: /reveal works in Socratic mode (/socratic) and in quizzes" in result.stderr


def test_a_malformed_question_reply_is_reported_not_shown():
    backend = FakeBackend(["# Title\n\nBody."], ["here are questions!"], ['{"questions": "none"}'])
    result, _ = run(["explain", "X"], backend=backend, input="/quiz\n\n")
    assert result.exit_code == 0
    assert "error: the fake:fake-1 quiz questions was malformed twice" in result.stderr
    assert "here are questions" not in result.output


def test_quiz_on_a_new_topic_explains_first_and_empty_topic_is_refused():
    result, _ = run(["quiz", "   "])
    assert one_error_line(result).startswith("error: the topic is empty")
    backend = FakeBackend(["# Gravity\n\nThings fall."], ["not json"], ["still not json"])
    result, _ = run(["quiz", "Gravity"], backend=backend)
    assert "Things fall." in result.stdout
    assert result.exit_code == 1
    assert "quiz questions was malformed twice" in result.stderr


def test_explain_says_how_many_cards_are_due_in_one_dim_line():
    make_due_card("Cells", "What do mitochondria make?", "ATP")
    make_due_card("Cells", "What does a ribosome make?", "Proteins")
    result, _ = run(["explain", "X", "--no-feedback"], tty=False)
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == "2 cards due: tutor review"
    result, _ = run(["explain", "X", "--no-feedback", "--no-history"], tty=False)
    assert "cards due" not in result.stderr
