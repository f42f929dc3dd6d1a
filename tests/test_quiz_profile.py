"""The learner profile: inference from scripted feedback histories, editing, and the CLI."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from fakes import FakeBackend
from tutor.cli.app import app
from tutor.cli.deps import Dependencies
from tutor.errors import UsageError
from tutor.history.db import connect
from tutor.quiz.profile import Profile, ProfileStore, from_text, infer_preferences, to_text


def run(args, *, backend=None, tty=False, input=None, env=None):
    backend = backend or FakeBackend(["# Title\n\nBody."])
    deps = Dependencies(build_backend=lambda choice, settings, **kwargs: backend, stdin_is_tty=lambda: tty)
    return CliRunner().invoke(app, args, obj=deps, input=input, env=env), backend


def test_three_requests_for_code_make_a_preference():
    history = ["an example with code please", "simpler", "show me the code", "more detail", "code in Python?"]
    assert "asks for code examples" in infer_preferences(history)
    assert "asks for code examples" not in infer_preferences(history[:3])


def test_analogies_and_short_answers_are_inferred_from_their_own_words():
    history = ["use an analogy", "too long", "can you give me an analogy", "shorter please", "analogies help me",
               "be concise"]
    assert infer_preferences(history) == ["prefers analogies", "prefers short answers"]


def test_unrelated_feedback_infers_nothing():
    assert infer_preferences(["thanks", "ok", "what about France?", "nice", "go on"]) == []


def test_a_preference_removed_by_hand_is_not_added_back_by_the_next_request():
    profile = Profile()
    for _ in range(3):
        profile.observe_feedback("more code")
    assert profile.preferences == ["asks for code examples"]
    profile = from_text(to_text(profile).replace("- asks for code examples\n", ""), base=profile)
    assert profile.observe_feedback("more code") == []
    assert profile.preferences == []


def test_missed_concepts_keep_the_latest_first_without_duplicates():
    profile = Profile()
    for concept in ["recursion", "base case", "Recursion"]:
        profile.observe_missed(concept)
    assert profile.missed == ["Recursion", "base case"]


def test_the_text_form_round_trips_and_rejects_bad_lines():
    profile = Profile(level="beginner", preferences=["prefers analogies"], missed=["base case"], notes="Visual learner")
    assert from_text(to_text(profile), base=profile) == profile
    with pytest.raises(UsageError, match="level must be one of"):
        from_text("level: genius", base=profile)
    with pytest.raises(UsageError, match="line 1 is not understood"):
        from_text("favourite colour: blue", base=profile)


def saved_profile() -> Profile:
    conn = connect()
    try:
        return ProfileStore(conn).load()
    finally:
        conn.close()


def test_feedback_in_lessons_builds_the_profile_and_it_reaches_the_next_system_prompt():
    for _ in range(3):
        result, _ = run(["explain", "Recursion"], tty=True, input="an example with code\n\n")
        assert result.exit_code == 0, result.output
    assert "your profile now says you asks for code examples" in result.stderr.replace("\n", " ")
    assert saved_profile().preferences == ["asks for code examples", "likes worked examples"]
    result, backend = run(["explain", "Sorting", "--no-feedback"])
    assert "they asks for code examples; likes worked examples." in backend.calls[0][0]["content"]
    result, backend = run(["explain", "Sorting", "--no-feedback", "--no-profile"])
    assert "from earlier lessons" not in backend.calls[0][0]["content"]
    result, backend = run(["explain", "Sorting", "--no-feedback"], env={"TUTOR_NO_PROFILE": "1"})
    assert "from earlier lessons" not in backend.calls[0][0]["content"]


def test_nothing_is_inferred_when_history_is_off():
    for _ in range(3):
        result, _ = run(["explain", "Recursion", "--no-history"], tty=True, input="an example with code\n\n")
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["profile"])
    assert result.exit_code == 0
    assert "your profile is empty" in result.stderr


def test_a_given_level_is_remembered_and_used_when_none_is_given():
    run(["explain", "X", "--no-feedback", "--level", "beginner"])
    result, backend = run(["explain", "Y", "--no-feedback"])
    assert "beginner (no background assumed" in backend.calls[0][1]["content"]


def test_profile_edit_and_reset(tmp_path):
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('level: ', 'level: expert') + '\\n')\n"
        "t = p.read_text().replace('preferences:', 'preferences:\\n- prefers analogies')\n"
        "p.write_text(t)\n"
    )
    result = CliRunner().invoke(app, ["profile", "edit"], env={"EDITOR": f"{sys.executable} {editor}"})
    assert result.exit_code == 0, result.output
    assert saved_profile().level == "expert"
    shown = CliRunner().invoke(app, ["profile"])
    assert "level: expert" in shown.stdout and "- prefers analogies" in shown.stdout
    result = CliRunner().invoke(app, ["profile", "reset"])
    assert result.exit_code == 0
    assert saved_profile() == Profile()


def test_a_broken_edit_is_one_line_and_changes_nothing(tmp_path):
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('level: genius\\n')\n")
    result = CliRunner().invoke(app, ["profile", "edit"], env={"EDITOR": f"{sys.executable} {editor}"})
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: profile line 1: level must be one of")
    assert "Traceback" not in result.output
    assert saved_profile() == Profile()
