"""Questions, grading and the quiz session, with a scripted backend and a scripted terminal."""

from __future__ import annotations

import json

import pytest

from fakes import FakeBackend, Interrupt
from quiz_scripts import CORRECT, PARTLY, QUESTIONS, WRONG
from tutor.errors import UsageError
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet
from tutor.quiz.grading import MAX_ANSWER_CHARS, clean_answer
from tutor.quiz.questions import Question, difficulty_ladder, generate_questions, is_yes_no
from tutor.quiz.session import QuizSession

QUESTION = Question(text="Where?", reference_answer="In the chloroplasts.", concept="chloroplasts", difficulty="easy")


class ScriptedIO:
    """Answers from a list (an exception instance is raised instead); records what was shown."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.shown: list[str] = []
        self.notes: list[str] = []
        self.errors: list[str] = []

    def show(self, markdown):
        self.shown.append(markdown)

    def note(self, text):
        self.notes.append(text)

    def error(self, message):
        self.errors.append(str(message))

    def read(self, prompt):
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def session(backend, io, kept=None):
    return QuizSession(backend, prompts=PromptSet(), options=GenerationOptions(temperature=1.0), io=io,
                       keep=None if kept is None else kept.append)


def test_difficulty_rises_across_the_quiz():
    assert difficulty_ladder(3) == ["easy", "medium", "hard"]
    assert difficulty_ladder(1) == ["easy"]
    assert difficulty_ladder(5) == ["easy", "easy", "medium", "medium", "hard"]


@pytest.mark.parametrize("text", ["Is water an input?", "Does light matter?", "True or false: plants eat", "Can't it be?"])
def test_yes_no_questions_are_recognised(text):
    assert is_yes_no(text)


@pytest.mark.parametrize("text", ["Why is light needed?", "What are the inputs?", "Island ecology: how does it work?"])
def test_open_questions_are_not_yes_no(text):
    assert not is_yes_no(text)


def test_a_yes_no_question_is_sent_back_for_another_try():
    yes_no = {"questions": [dict(QUESTIONS["questions"][0], question="Is the chloroplast green?")]}
    backend = FakeBackend([json.dumps(yes_no)], [json.dumps({"questions": QUESTIONS["questions"][:1]})])
    questions = generate_questions(backend, prompts=PromptSet(), topic="Photosynthesis", explanation="Plants...",
                                   count=1, options=GenerationOptions())
    assert [q.text for q in questions] == ["Where in the cell does photosynthesis happen?"]
    assert "yes/no" in backend.calls[1][-1]["content"]
    request = backend.calls[0][1]["content"]
    assert "Plants..." in request and "easy" in request


def test_questions_need_an_explanation_and_a_sane_count():
    with pytest.raises(UsageError, match="no explanation"):
        generate_questions(FakeBackend(), prompts=PromptSet(), topic="T", explanation="  ", count=3, options=GenerationOptions())
    with pytest.raises(UsageError, match="1 to 10 questions"):
        generate_questions(FakeBackend(), prompts=PromptSet(), topic="T", explanation="x", count=11, options=GenerationOptions())


def test_answers_are_cleaned_and_bad_ones_refused():
    assert clean_answer("  in the\x1b[31m chloro\x00plasts \t") == "in the [31m chloro plasts"
    with pytest.raises(UsageError, match="the answer is empty"):
        clean_answer(" \x07 \n")
    with pytest.raises(UsageError, match="keep it under 2,000"):
        clean_answer("x" * 100_000)


def test_bad_answers_are_reported_and_asked_again_before_grading():
    backend = FakeBackend([json.dumps(CORRECT)])
    io = ScriptedIO("", "x" * 100_000, "/hint", "chloroplasts\x1b[2J\x07")
    result = session(backend, io).run([QUESTION])
    assert io.errors[0].startswith("the answer is empty")
    assert "100,000 characters" in io.errors[1]
    assert io.errors[2].startswith("/hint is not a quiz command")
    assert len(backend.calls) == 1
    assert "Learner's answer: chloroplasts [2J\n" in backend.calls[0][1]["content"]
    assert result.score == 1
    assert backend.options[0].temperature == 0.0  # grading is greedy


def test_a_wrong_answer_gets_a_hint_and_one_more_try_then_the_answer():
    kept = []
    backend = FakeBackend([json.dumps(WRONG)], [json.dumps(PARTLY)])
    io = ScriptedIO("oxygen", "water")
    result = session(backend, io, kept).run([QUESTION])
    assert any("Which gas do plants take in?" in s for s in io.shown)
    assert any("Misconception:* confuses inputs with outputs" in s for s in io.shown)
    assert io.shown[-2] == "**Answer:** In the chloroplasts."
    assert result.score == 0.5 and result.concepts_to_revisit() == ["chloroplasts"]
    assert kept[0].outcome == "partly" and kept[0].hint == "Which gas do plants take in?"
    assert [a["answer"] for a in kept[0].attempts] == ["oxygen", "water"]
    assert "confuses inputs with outputs" in result.revision_feedback(PromptSet())


def test_ctrl_c_while_grading_leaves_the_quiz_keeping_answered_questions():
    kept = []
    backend = FakeBackend([json.dumps(CORRECT)], [Interrupt()])
    second = Question(text="Why?", reference_answer="Because.", concept="why", difficulty="medium")
    result = session(backend, ScriptedIO("chloroplasts", "because"), kept).run([QUESTION, second, QUESTION])
    assert result.left_early
    assert [item.outcome for item in kept] == ["correct"]
    assert result.asked == 2


def test_eof_at_the_first_question_keeps_nothing():
    kept = []
    result = session(FakeBackend(), ScriptedIO(EOFError()), kept).run([QUESTION])
    assert kept == [] and result.items == [] and result.left_early


@pytest.mark.parametrize(
    ("states", "verdict"),
    [
        (["stated", "stated"], "correct"),
        (["stated", "missing"], "partly"),
        (["missing", "missing"], "incorrect"),
        (["stated", "contradicted"], "incorrect"),
        ([], None),
    ],
)
def test_the_key_idea_checklist_decides_the_verdict(states, verdict):
    from tutor.quiz.grading import verdict_from_ideas

    assert verdict_from_ideas([{"idea": "x", "in_answer": s} for s in states]) == verdict


def test_a_model_verdict_that_disagrees_with_its_checklist_is_overruled():
    from tutor.quiz.grading import grade_answer

    reply = {"key_ideas": [{"idea": "shorter string, more swings", "learner_words": "longer string, fewer swings",
                            "in_answer": "stated"}],
             "verdict": "incorrect", "feedback": "f", "misconception": "m", "hint": "h"}
    grade = grade_answer(FakeBackend([json.dumps(reply)]), prompts=PromptSet(), question="q", reference="r",
                         answer="A longer string makes fewer swings.", options=GenerationOptions())
    assert grade.verdict == "correct"
    assert grade.misconception == "" and grade.hint == ""
    assert grade.reasoning == "shorter string, more swings: stated -> model said incorrect"


def test_a_stated_idea_must_quote_words_from_the_answer():
    from tutor.quiz.grading import checked_idea

    stated = {"idea": "more water", "learner_words": "there is more water", "in_answer": "stated"}
    assert checked_idea(stated, "Faster, because there is more water.")["in_answer"] == "stated"
    assert checked_idea(stated, "The water flows much faster.")["in_answer"] == "missing"
    assert checked_idea({**stated, "learner_words": ""}, "anything")["in_answer"] == "missing"
    assert checked_idea({**stated, "in_answer": "contradicted"}, "x")["in_answer"] == "contradicted"
