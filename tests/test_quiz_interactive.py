"""The quiz, Socratic mode and review, driven for real in a pseudo-terminal against the
loopback OpenAI server answering with scripted JSON."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pexpect

from openai_server import Reply
from quiz_scripts import CORRECT, EXPLANATION, PARTLY, QUESTIONS, WRONG, grade, make_due_card
from test_interactive import ANSI, TIMEOUT, spawn, tutor_env


def tutor(args, server, home):
    return subprocess.run(
        [sys.executable, "-m", "tutor", *args], env=tutor_env(server, home), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=TIMEOUT,
    )


def start(args, server, home):
    """`tutor ARGS` in a pseudo-terminal; `child.logfile_read` keeps everything it printed."""
    child = spawn(args, server, home)
    child.logfile_read = io.StringIO()
    return child


def finish(child, status: int = 0) -> str:
    """Wait for the end; the whole screen output without colour codes."""
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == status
    assert "Traceback" not in child.logfile_read.getvalue()
    return ANSI.sub("", child.logfile_read.getvalue())


def test_quiz_right_partly_hint_retry_reveal_then_revision(openai_server, isolated_env):
    openai_server.enqueue(
        Reply.stream([EXPLANATION]),
        Reply.json(QUESTIONS),
        Reply.json(CORRECT),
        Reply.json(PARTLY),
        Reply.json(grade("correct", "All three inputs.", words="light and carbon dioxide")),
    )
    child = start(["explain", "Photosynthesis", "--backend", "openai"], openai_server, isolated_env)
    child.expect("feedback›")
    child.sendline("/quiz")
    child.expect("Question 1/3")
    child.expect("Where in the cell")
    child.expect("answer›")
    child.sendline("in the chloroplasts")
    child.expect("Correct")
    child.expect("Question 2/3")
    child.expect("answer›")
    child.sendline("water")
    child.expect("Partly correct")
    child.expect("Hint:")
    child.expect("what the leaves take from the air")
    child.expect("answer›")
    child.sendline("water, light and carbon dioxide")
    child.expect("Correct")
    child.expect("Question 3/3")
    child.expect("answer›")
    child.sendline("/reveal")
    child.expect("Without light there is no energy")
    child.expect(r"Score: 2/3")
    child.expect("To revisit: role of light")
    child.expect(r"Re-explain the missed part\? \(y/N\)")
    child.sendline("y")
    # the echo server quotes the revision request; the terminal may wrap it anywhere
    child.expect(r"missed\s+these\s+parts:\s+role\s+of\s+light")
    child.expect("feedback›")
    child.sendline("/quit")
    text = finish(child)
    assert "{" not in text and "verdict" not in text  # never JSON on screen

    bodies = [r.body for r in openai_server.chat_requests]
    assert bodies[1]["response_format"]["type"] == "json_schema"
    assert bodies[1]["response_format"]["json_schema"]["strict"] is True
    assert bodies[2]["response_format"]["json_schema"]["name"] == "grade"
    assert "Learner's answer: in the chloroplasts" in bodies[2]["messages"][1]["content"]
    assert "Reference answer: Light, water and carbon dioxide." in bodies[4]["messages"][1]["content"]

    lesson_id = latest_lesson_id()
    exported = json.loads(tutor(["export", lesson_id, "-f", "json"], openai_server, isolated_env).stdout)
    quiz = exported["quiz"]
    assert [item["outcome"] for item in quiz] == ["correct", "correct", "revealed"]
    assert quiz[1]["hint"] == "Think about what the leaves take from the air."
    assert [a["answer"] for a in quiz[1]["attempts"]] == ["water", "water, light and carbon dioxide"]
    assert quiz[1]["attempts"][0]["grade"]["verdict"] == "partly"
    assert quiz[0]["after_turn"] == 1
    markdown = tutor(["show", "--all", lesson_id], openai_server, isolated_env).stdout
    assert "## Quiz 1" in markdown
    assert "- Hint: Think about what the leaves take from the air." in markdown
    assert "*partly correct*: Water is one input" in markdown
    assert "*Score: 2/3*" in markdown


def latest_lesson_id() -> str:
    from tutor.history.store import HistoryStore

    store = HistoryStore.open(create=False)
    assert store is not None
    try:
        return store.latest_id()
    finally:
        store.close()


def test_wrong_answer_malformed_grading_skip_and_ctrl_c_keep_what_was_done(openai_server, isolated_env):
    openai_server.enqueue(
        Reply.stream([EXPLANATION]),
        Reply.json(QUESTIONS),
        Reply.json(WRONG),
        Reply.json("{not json"),  # the second try's grading: malformed...
        Reply.json('{"verdict": "maybe"}'),  # ...and malformed again: reported, never shown
        Reply.json(PARTLY),  # the learner answers again
    )
    child = start(["explain", "Photosynthesis", "--backend", "openai"], openai_server, isolated_env)
    child.expect("feedback›")
    child.sendline("/quiz 3")
    child.expect("answer›")
    child.sendline("oxygen")
    child.expect("Not quite")
    child.expect("Misconception:.*confuses inputs with outputs")
    child.expect("Which gas do plants take in")
    child.expect("answer›")
    child.sendline("carbon dioxide")
    child.expect("grading reply was malformed twice")
    child.expect("answer›")
    child.sendline("carbon dioxide and water")
    child.expect("Partly correct")
    child.expect("Answer:.*In the chloroplasts")  # the reference answer after two tries
    child.expect("Question 2/3")
    child.expect("answer›")
    child.sendline("/skip")
    child.expect("Answer:.*Light, water and carbon dioxide")
    child.expect("Question 3/3")
    child.expect("answer›")
    child.sendintr()
    child.expect("Score: 0.5/2")
    child.expect("feedback›")
    child.sendline("/quit")
    text = finish(child)
    assert "{not json" not in text and "maybe" not in text
    retry = openai_server.chat_requests[4].body["messages"]
    assert retry[-2] == {"role": "assistant", "content": "{not json"}
    assert "malformed" in retry[-1]["content"]

    exported = json.loads(tutor(["export", latest_lesson_id(), "-f", "json"], openai_server, isolated_env).stdout)
    assert [(i["seq"], i["outcome"]) for i in exported["quiz"]] == [(1, "partly"), (2, "skipped")]
    assert [a["grade"]["verdict"] for a in exported["quiz"][0]["attempts"]] == ["incorrect", "partly"]
    assert exported["quiz"][0]["attempts"][0]["grade"]["misconception"] == "confuses inputs with outputs"


def test_tutor_quiz_on_a_stored_lesson_and_review_of_due_cards(openai_server, isolated_env):
    first = tutor(["explain", "Photosynthesis", "--backend", "openai", "--no-feedback"], openai_server, isolated_env)
    assert first.returncode == 0, first.stderr
    lesson_id = latest_lesson_id()
    openai_server.enqueue(Reply.json({"questions": QUESTIONS["questions"][:1]}), Reply.json(CORRECT))
    child = start(["quiz", lesson_id, "-n", "1"], openai_server, isolated_env)
    child.expect(f"quiz on lesson {lesson_id}")
    child.expect("Question 1/1")
    child.expect("answer›")
    child.sendline("chloroplasts")
    child.expect("Score: 1/1")
    finish(child)
    assert "Explain this topic" in openai_server.chat_requests[1].body["messages"][1]["content"]  # the echo explanation

    nothing = tutor(["review"], openai_server, isolated_env)  # graded "good" just now: not due yet
    assert nothing.returncode == 0
    assert nothing.stderr.startswith("nothing to review: no cards are due; the next card is due")

    make_due_card("Cell biology", "What do mitochondria make?", "ATP, the cell's energy currency.")
    history = tutor(["history"], openai_server, isolated_env)
    assert "1 card due: tutor review" in history.stderr
    openai_server.enqueue(Reply.json(WRONG), Reply.json(grade("correct", "Yes, ATP.", words="ATP")))
    child = start(["review", "--backend", "openai"], openai_server, isolated_env)
    child.expect("Card 1/1")
    child.expect("What do mitochondria make")
    child.expect("answer›")
    child.sendline("glucose")
    child.expect("Hint:")
    child.expect("answer›")
    child.sendline("ATP")
    child.expect("Correct")
    child.expect("reviewed 1 card, 0 right")  # right only after the hint: rated Hard, not Good
    finish(child)
    assert "card due" not in tutor(["history"], openai_server, isolated_env).stderr


def test_socratic_mode_asks_first_climbs_the_hint_ladder_and_reveals(openai_server, isolated_env):
    openai_server.enqueue(
        Reply.stream(["What do you already know about how plants get their food?"]),
        Reply.stream(["Good start. What might the light be for?"]),
        Reply.stream(["Closer. Think of light as energy."]),
        Reply.stream(["# Photosynthesis\n\nThe full explanation."]),
    )
    child = start(["explain", "Photosynthesis", "--backend", "openai", "--socratic"], openai_server, isolated_env)
    child.expect("how plants get their food")
    child.expect("feedback›")
    child.sendline("from the soil")
    child.expect("What might the light be for")
    child.expect("feedback›")
    child.sendline("no idea")
    child.expect("light as energy")
    child.expect("feedback›")
    child.sendline("/reveal")
    child.expect("The full explanation")
    child.expect("feedback›")
    child.sendline("/socratic")
    child.expect("Socratic mode off")
    child.expect("feedback›")
    child.sendline("/quit")
    finish(child)
    bodies = [r.body["messages"] for r in openai_server.chat_requests]
    opening = bodies[0][-1]["content"]
    assert "Teach me Socratically" in opening and "Explain this topic" not in opening
    assert "My answer: from the soil" in bodies[1][-1]["content"]
    assert "a gentle nudge" in bodies[1][-1]["content"]
    assert "a pointed hint" in bodies[2][-1]["content"]
    assert "give me the full explanation of Photosynthesis" in bodies[3][-1]["content"]
