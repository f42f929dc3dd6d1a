"""The command line, driven with CliRunner and a fake backend passed in through `obj`."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fakes import FakeBackend
from tutor import __version__
from tutor.cli.app import app
from tutor.cli.deps import Dependencies
from tutor.errors import AuthenticationError, BackendUnavailable

SECRET = "sk-test-DO-NOT-PRINT-abcdefgh9876"


def run(args, *, backend=None, tty=False, input=None, env=None):
    backend = backend or FakeBackend(["# Title\n\nBody."])
    built = []

    def build(choice, settings, **kwargs):
        built.append((choice, settings))
        return backend

    deps = Dependencies(build_backend=build, stdin_is_tty=lambda: tty)
    result = CliRunner().invoke(app, args, obj=deps, input=input, env=env)
    return result, backend, built


def assert_one_clean_error_line(result, text):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and text in lines[0]


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tutor {__version__}"


def test_explain_streams_one_answer_and_a_footer():
    result, backend, built = run(["explain", "Transformers in ML", "--no-feedback", "--level", "beginner"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "# Title\n\nBody.\n"
    assert "fake:fake-1" in result.stderr
    assert built[0][0] == "auto"
    assert "beginner" in backend.calls[0][1]["content"]


def test_options_reach_the_backend():
    result, backend, built = run(
        ["explain", "X", "--temperature", "0", "--max-tokens", "50", "--seed", "3", "--backend", "local", "--model", "m"]
    )
    assert result.exit_code == 0, result.output
    options = backend.options[0]
    assert (options.temperature, options.max_tokens, options.seed) == (0, 50, 3)
    assert built[0][0] == "local" and built[0][1].local_model == "m"


def test_interactive_feedback_round_trip():
    backend = FakeBackend(["first answer"], ["revised answer"])
    result, _, _ = run(["explain", "X"], backend=backend, tty=True, input="an example with code\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "first answer" in result.stdout and "revised answer" in result.stdout
    assert "an example with code" in backend.calls[1][-1]["content"]


@pytest.mark.parametrize("topic", ["", "   "])
def test_empty_topic(topic):
    result, backend, _ = run(["explain", topic])
    assert_one_clean_error_line(result, "the topic is empty")
    assert result.exit_code == 2
    assert backend.calls == []


def test_unknown_flag_is_a_usage_error():
    result, _, _ = run(["explain", "X", "--frobnicate"])
    assert result.exit_code == 2
    assert "No such option" in result.output
    assert "Traceback" not in result.output


def test_out_of_range_option():
    result, _, _ = run(["explain", "X", "--top-p", "1.5"])
    assert_one_clean_error_line(result, "--top-p must be greater than 0 and at most 1")


def test_missing_key_says_how_to_set_it():
    result = CliRunner().invoke(app, ["explain", "X", "--backend", "openai"])
    assert_one_clean_error_line(result, "OPENAI_API_KEY is not set: run  export OPENAI_API_KEY=")


def test_backend_errors_are_one_line_and_never_show_the_key():
    backend = FakeBackend([AuthenticationError("OpenAI rejected the API key (401)")])
    result, _, _ = run(["explain", "X"], backend=backend, env={"OPENAI_API_KEY": SECRET})
    assert_one_clean_error_line(result, "rejected the API key (401)")
    assert SECRET not in result.output


def test_failure_before_any_text_in_a_terminal_still_exits_non_zero():
    backend = FakeBackend([BackendUnavailable("cannot connect to 127.0.0.1:9")])
    result, _, _ = run(["explain", "X"], backend=backend, tty=True, input="/quit\n")
    assert_one_clean_error_line(result, "cannot connect")


def test_config_masks_the_key():
    result = CliRunner().invoke(app, ["config"], env={"OPENAI_API_KEY": SECRET, "COLUMNS": "150"})
    assert result.exit_code == 0, result.output
    assert "sk-…9876" in result.stdout
    assert SECRET not in result.stdout
    assert "answers with openai" in result.stdout


def test_prompts_flag_overrides_the_prompts(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "system.md").write_text("SYSTEM")
    (folder / "explain.md").write_text("TEACH $topic ($level)")
    (folder / "revise.md").write_text("REVISE $feedback")
    result, backend, _ = run(["explain", "Gravity", "--prompts", str(folder), "--level", "expert"])
    assert result.exit_code == 0, result.output
    assert backend.calls[0][0]["content"] == "SYSTEM"
    assert backend.calls[0][1]["content"].startswith("TEACH Gravity (expert")


def test_prompts_from_the_environment_with_a_missing_file(tmp_path):
    (tmp_path / "system.md").write_text("S")
    result, _, _ = run(["explain", "X"], env={"TUTOR_PROMPTS_DIR": str(tmp_path)})
    assert_one_clean_error_line(result, "explain.md is missing")


def test_notes_ground_the_first_answer_and_sources_lists_them(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "attention.md").write_text(
        "# Attention\n\n## Queries and keys\n\nEach token's query is compared with every key; "
        "the softmax of the scores weights the values.\n"
    )
    (notes / "cooking.md").write_text("# Bread\n\nKnead the dough for ten minutes.\n")
    backend = FakeBackend(["Each token's query is compared with every key, and the softmax of the scores weights the values."])
    result, _, _ = run(
        ["explain", "attention queries keys", "--notes", str(notes)], backend=backend, tty=True, input="/sources\n/quit\n"
    )
    assert result.exit_code == 0, result.output
    system = backend.calls[0][0]["content"]
    assert "softmax of the scores" in system
    assert "Knead" not in system
    assert "attention.md" in result.stderr
    assert result.stdout.rstrip().endswith("Sources from your notes: [notes/attention.md §1]")


def test_an_answer_that_ignores_the_notes_claims_no_sources(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "attention.md").write_text(
        "# Attention\n\nEach token's query is compared with every key; the softmax of the scores weights the values.\n"
    )
    backend = FakeBackend(["Attention lets a model focus on the important parts of its input, like a spotlight."])
    result, _, _ = run(["explain", "attention queries keys", "--notes", str(notes)], backend=backend)
    assert result.exit_code == 0, result.output
    assert "Sources from your notes" not in result.stdout


def test_an_answer_that_cites_its_passages_gets_no_sources_line(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "attention.md").write_text("# Attention\n\nQueries meet keys; the softmax weights the values.\n")
    backend = FakeBackend(["Queries meet keys [notes/attention.md §1]."])
    result, _, _ = run(["explain", "attention queries keys", "--notes", str(notes)], backend=backend)
    assert result.exit_code == 0, result.output
    assert "Sources from your notes" not in result.stdout


def test_missing_notes_path_is_a_usage_error(tmp_path):
    result, backend, _ = run(["explain", "X", "--notes", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert backend.calls == []


def test_help_loads_no_model_network_or_progress_libraries():
    import subprocess
    import sys

    code = (
        "import sys, runpy; sys.argv = ['tutor', '--help']\n"
        "try:\n    runpy.run_module('tutor', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = {'torch', 'transformers', 'openai', 'numpy', 'sqlite3', 'rich.progress', 'tutor.models.store'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_footer_counts_the_model_load_the_learner_waited_for():
    times = iter([10.0, 12.5])
    backend = FakeBackend(["a", "b"], name="local", model="smollm2")
    deps = Dependencies(build_backend=lambda choice, settings, **kw: backend, stdin_is_tty=lambda: False,
                        clock=lambda: next(times))
    result = CliRunner().invoke(app, ["explain", "X", "--no-feedback"], obj=deps)
    assert result.exit_code == 0, result.output
    assert "local:smollm2 · 7 prompt + 2 answer tokens · model load 2.50 s · first token 1.00 s" in result.stderr


def test_notices_and_footers_are_not_wrapped_off_a_terminal():
    model = "a-model-with-a-rather-long-name-" + "x" * 60
    result, _, _ = run(["explain", "X", "--no-feedback"], backend=FakeBackend(["a", "b", "c"], model=model),
                       env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    (footer,) = [line for line in result.stderr.splitlines() if "answer tokens" in line]
    assert footer.startswith(f"fake:{model} · ") and footer.endswith(" tok/s")
