"""`tutor train` and `tutor sample`: tiny runs on a corpus the tests write, all offline."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tutor.cli import TutorGroup
from tutor.cli_train import sample, train
from tutor.errors import TrainingError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tutor.gpt import checkpoint as ckpt  # noqa: E402
from tutor.gpt.presets import resolve_config  # noqa: E402
from tutor.gpt.train import config_for_resume  # noqa: E402
from tutor.gpt.train import train as run_training  # noqa: E402

TINY = ["--preset", "tiny", "--block-size", "48"]


def make_app() -> typer.Typer:
    """The two commands on a local app with the real error handling (cli.py is not ours)."""
    app = typer.Typer(cls=TutorGroup, pretty_exceptions_enable=False)
    app.command()(train)
    app.command()(sample)
    return app


def invoke(*args: str):
    return CliRunner().invoke(make_app(), [str(a) for a in args])


def write_corpus(path: Path, chars: int = 12_000, seed: int = 0) -> Path:
    """Simple, learnable English-ish text: the loss of even a tiny model falls quickly."""
    rng = random.Random(seed)
    names = ["ROMEO", "JULIET", "NURSE", "FRIAR"]
    words = "the love of night and day is sweet but death comes soon to all who wait".split()
    lines = []
    while sum(map(len, lines)) < chars:
        lines.append(f"{rng.choice(names)}:\n" + " ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) + ".\n")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(corpus, out) of one complete tiny run, driven through the CLI."""
    root = tmp_path_factory.mktemp("trained")
    corpus = write_corpus(root / "corpus.txt")
    out = root / "model"
    result = invoke("train", corpus, "--out", out, *TINY)
    assert result.exit_code == 0, result.output
    assert "done: 60 steps" in result.output
    return corpus, out


def test_run_writes_a_finished_model_with_metrics(trained):
    _, out = trained
    assert not (out / ckpt.INCOMPLETE).exists()
    assert ckpt.is_complete(out)
    summary = json.loads((out / "training.json").read_text())
    assert summary["steps"] == 60 and summary["device"] == "cpu" and summary["threads"] == 1
    assert summary["config"]["block_size"] == 48 and len(summary["data_hash"]) == 64
    import xml.etree.ElementTree as ET

    svg = ET.parse(out / "loss.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 2
    header, *rows = (out / "metrics.csv").read_text().splitlines()
    assert header == "step,train_loss,val_loss,lr,tokens_per_s,elapsed_s"
    evals = [float(r.split(",")[2]) for r in rows if r.split(",")[2]]
    assert len(evals) == 4  # steps 0, 20, 40, 60
    assert evals[-1] < evals[0] - 0.5  # the loss falls


def test_saved_dir_loads_with_auto_classes_and_generates(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, out = trained
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    ids = tok("ROMEO:\n", return_tensors="pt")["input_ids"]
    new = model.generate(ids, max_new_tokens=10, do_sample=False)
    assert new.shape[1] == ids.shape[1] + 10
    assert isinstance(tok.decode(new[0]), str)


def test_saved_weights_match_the_training_model(trained):
    from transformers import AutoModelForCausalLM

    from tutor.gpt.model import GPT, GPTConfig

    _, out = trained
    state = ckpt.load_checkpoint(out)
    ours = GPT(GPTConfig(**state["model_args"]))
    ours.load_state_dict(state["model"])
    hf = AutoModelForCausalLM.from_pretrained(out).eval()
    x = torch.randint(0, ours.config.vocab_size, (2, 48))
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x)[0], hf(x).logits, atol=1e-4)


def test_sample_streams_a_continuation(trained):
    _, out = trained
    result = invoke("sample", out, "--prompt", "ROMEO:", "--max-tokens", "40", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ROMEO:") and len(result.output) > len("ROMEO:") + 10
    again = invoke("sample", out, "--prompt", "ROMEO:", "--max-tokens", "40", "--seed", "1")
    assert again.output == result.output


def test_sample_slides_past_the_context_window(trained):
    from tutor.gpt.sample import load_model
    from tutor.gpt.sample import sample as generate

    _, out = trained
    model, tok = load_model(str(out))
    text = "".join(generate(model, tok, "JULIET:", max_tokens=120, temperature=0, top_k=None))
    assert len(text) > 48  # longer than block_size: the window slid


def test_local_backend_uses_the_result(trained):
    local = pytest.importorskip("tutor.backends.local")
    from tutor.backends.base import GenerationOptions

    _, out = trained
    backend = local.LocalBackend(model=str(out), device="cpu")
    chunks = list(backend.stream([{"role": "user", "content": "love?"}], GenerationOptions(max_tokens=8, seed=0)))
    assert all(isinstance(c, str) for c in chunks)


def test_resume_continues_to_the_same_state(trained, tmp_path):
    corpus, full = trained
    out = tmp_path / "resumed"
    config = resolve_config("tiny", block_size=48)
    stop = threading.Event()

    def stop_at_25(event):
        if event.kind == "step" and event.step == 25:
            stop.set()

    first = run_training([corpus], out, config, on_event=stop_at_25, stop=stop)
    assert first.interrupted and first.step == 25
    assert (out / ckpt.INCOMPLETE).exists() and not (out / "training.json").exists()
    assert ckpt.load_checkpoint(out)["step"] == 25

    second = run_training([corpus], out, config_for_resume(out), resume=True)
    assert not second.interrupted and second.step == 60
    assert second.summary["resumed_from_step"] == 25
    a, b = ckpt.load_checkpoint(full), ckpt.load_checkpoint(out)
    for name, value in a["model"].items():
        assert torch.allclose(value, b["model"][name], atol=1e-6), name
    steps_a = {s["step"].item() for s in a["optimizer"]["state"].values()}
    steps_b = {s["step"].item() for s in b["optimizer"]["state"].values()}
    assert steps_a == steps_b == {60.0}
    assert ckpt.is_complete(out)


def test_stop_before_the_first_step_then_resume_from_the_cli(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt")
    out = tmp_path / "m"
    config = resolve_config("tiny", block_size=48, steps=10)
    stop = threading.Event()
    stop.set()  # as if Ctrl-C came before the first step finished
    result = run_training([corpus], out, config, stop=stop)
    assert result.interrupted and result.step == 1
    cli = invoke("train", corpus, "--out", out, "--resume", "--steps", "3")
    assert cli.exit_code == 0, cli.output
    assert "done: 3 steps" in cli.output


def test_ctrl_c_asks_for_a_stop_and_a_second_one_interrupts():
    import signal

    from tutor.gpt.train import _install_stop_signals

    stop = threading.Event()
    restore = _install_stop_signals(stop)
    try:
        signal.raise_signal(signal.SIGINT)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        restore()


def test_under_torchrun_sigterm_asks_for_a_stop_and_never_escalates():
    import signal

    from tutor.gpt.train import _install_stop_signals

    before = signal.getsignal(signal.SIGTERM)
    stop = threading.Event()
    restore = _install_stop_signals(stop, also_sigterm=True)
    try:
        signal.raise_signal(signal.SIGTERM)  # torchrun passes a Ctrl-C on this way
        signal.raise_signal(signal.SIGTERM)  # and again: still only a stop request
        assert stop.is_set()
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_finetune_from_a_tiny_base_keeps_its_tokenizer(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tutor.gpt.tokenizer import train_bpe_tokenizer

    notes = tmp_path / "notes"
    notes.mkdir()
    write_corpus(notes / "a.md", chars=3000, seed=1)
    write_corpus(notes / "b.txt", chars=3000, seed=2)
    (notes / "ignored.bin").write_bytes(b"\x00\x01")  # folders contribute .txt/.md only
    base = tmp_path / "base"
    tok = train_bpe_tokenizer([(notes / "a.md").read_text()], 300)
    tok.chat_template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(base)
    tok.save_pretrained(base)

    out = tmp_path / "tuned"
    result = invoke("train", notes, "--out", out, "--init-from", base, "--steps", "12", "--block-size", "32",
                    "--eval-every", "6", "--lr", "3e-3")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "training.json").read_text())
    assert summary["data"]["files"] == 2 and summary["config"]["init_from"] == str(base)
    first_val = float((out / "metrics.csv").read_text().splitlines()[1].split(",")[2])  # the step-0 eval
    assert summary["final_val_loss"] < first_val
    tuned = AutoTokenizer.from_pretrained(out)
    assert tuned.chat_template == tok.chat_template
    assert AutoModelForCausalLM.from_pretrained(out).config.model_type == "llama"


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_tokenizers_round_trip(tmp_path, kind):
    from transformers import AutoTokenizer

    from tutor.gpt.tokenizer import build_tokenizer, encode

    text = "Hello , world!\n\n  Tabs\tand ümlauts, ok? ... 'quotes' end.\n"
    tok = build_tokenizer(kind, [text * 20], vocab_size=300)
    tok.save_pretrained(tmp_path / kind)
    loaded = AutoTokenizer.from_pretrained(tmp_path / kind)
    for t in (tok, loaded):
        assert t.decode(encode(t, text)) == text
        assert t.decode(t(text)["input_ids"]) == text
    assert loaded.eos_token == "<|endoftext|>"
    if kind == "bpe":  # bytes it never saw still round-trip
        assert loaded.decode(encode(loaded, "日本 🙂")) == "日本 🙂"
        assert len(encode(loaded, text)) < len(text)
    else:
        assert len(encode(loaded, text)) == len(text)


@pytest.mark.parametrize(
    "setup, extra, message",
    [
        (lambda d: (d / "x.txt").write_text(""), [], "empty"),
        (lambda d: (d / "x.txt").write_bytes(b"\x89PNG\x00\x00\x01"), [], "binary"),
        (lambda d: (d / "x.txt").write_bytes(b"caf\xe9 au lait"), [], "not UTF-8"),
        (lambda d: (d / "x.txt").write_text("too short"), [], "too few to train on: add more text"),
        (lambda d: write_corpus(d / "x.txt"), ["--lr", "inf"], "--lr must be a finite number, got inf"),
        (lambda d: write_corpus(d / "x.txt"), ["--lr", "nan"], "--lr must be a finite number, got nan"),
        (lambda d: write_corpus(d / "x.txt"), ["--grad-accum", "0"], "--grad-accum must be at least 1"),
        (lambda d: write_corpus(d / "x.txt"), ["--resume"], "nothing to resume"),
        (lambda d: write_corpus(d / "x.txt"), ["--preset", "nope"], "unknown --preset"),
        (lambda d: write_corpus(d / "x.txt"), ["--tokenizer", "words"], "char or bpe"),
        (lambda d: write_corpus(d / "x.txt"), ["--steps", "0"], "--steps must be"),
    ],
)
def test_bad_input_gives_one_line_and_no_model_dir(tmp_path, setup, extra, message):
    setup(tmp_path)
    out = tmp_path / "out"
    base = [] if "--resume" in extra else TINY
    result = invoke("train", tmp_path / "x.txt", "--out", out, *base, *extra)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_missing_data_and_folders_without_text(tmp_path):
    (tmp_path / "empty-folder").mkdir()
    for data, message in [(tmp_path / "nope.txt", "does not exist"), (tmp_path / "empty-folder", "no .txt or .md")]:
        result = invoke("train", data, "--out", tmp_path / "out", *TINY)
        assert result.exit_code == 1 and message in result.output


def test_existing_out_needs_overwrite_and_resume_must_match(trained, tmp_path):
    corpus, full = trained
    result = invoke("train", corpus, "--out", full, *TINY)
    assert result.exit_code == 1 and "--overwrite" in result.output
    result = invoke("train", corpus, "--out", full, "--resume", "--block-size", "64")
    assert result.exit_code == 1 and "does not match the checkpoint" in result.output
    result = invoke("train", corpus, "--out", full, "--resume", "--steps", "30")
    assert result.exit_code == 1 and "checkpoint is at step 60" in result.output
    assert ckpt.is_complete(full)  # a refused resume leaves the finished model finished
    other = write_corpus(tmp_path / "other.txt", seed=5)
    result = invoke("train", other, "--out", full, "--resume", "--steps", "61")
    assert result.exit_code == 1 and "DATA differs" in result.output
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "cat.jpg").write_bytes(b"meow")
    result = invoke("train", corpus, "--out", stranger, *TINY, "--overwrite")
    assert result.exit_code == 1 and "refusing to delete" in result.output
    assert (stranger / "cat.jpg").exists()


def test_write_failures_become_training_errors(tmp_path):
    tmp_path = tmp_path / "run"
    tmp_path.mkdir()
    def full_disk(tmp: Path) -> None:
        tmp.write_text("part")
        raise OSError(28, "No space left on device")

    with pytest.raises(TrainingError, match="No space left on device"):
        ckpt.atomic_write(tmp_path / "checkpoint.pt", full_disk)
    assert list(tmp_path.iterdir()) == []  # no half-written file, not even the temp

    class BrokenModel:
        def save_pretrained(self, path, **kwargs):
            Path(path).mkdir(parents=True)
            raise OSError(28, "No space left on device")

    (tmp_path / ckpt.INCOMPLETE).write_text("")
    with pytest.raises(TrainingError, match="cannot save the model"):
        ckpt.save_model(tmp_path, BrokenModel(), tokenizer=None)
    assert not ckpt.is_complete(tmp_path) and not (tmp_path / ".saving").exists()


def test_sample_refuses_an_unfinished_run(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / ckpt.INCOMPLETE).write_text("")
    result = invoke("sample", tmp_path)
    assert result.exit_code == 1 and "unfinished training run" in result.output


def test_cpu_threads_leave_busy_cores_alone():
    from tutor.gpt.setup import cpu_threads

    assert cpu_threads(3) == 3
    assert cpu_threads(None, load=0.0) >= 1
    assert cpu_threads(None, load=1000.0) == 1  # an overloaded machine: one thread, no barrier stalls


def test_a_corpus_too_small_for_the_block_size_says_which_block_size_fits(tmp_path):
    corpus = tmp_path / "notes.txt"
    corpus.write_text("x" * 110)  # 110 characters = 110 tokens with the char tokenizer
    result = invoke("train", corpus, "--out", tmp_path / "a", "--preset", "tiny", "--block-size", "256")
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and line.startswith("error: the corpus has 110 tokens, too few for --block-size 256")
    assert line.endswith("add text or lower --block-size (at most 9 fits this corpus)")
    result = invoke("train", corpus, "--out", tmp_path / "b", "--preset", "tiny", "--block-size", "9", "--steps", "2")
    assert result.exit_code == 0, result.output  # the hint's value works


def test_a_train_error_has_no_blank_line_before_it(tmp_path):
    import subprocess
    import sys

    (tmp_path / "x.txt").write_text("too short")
    proc = subprocess.run([sys.executable, "-m", "tutor", "train", str(tmp_path / "x.txt"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: the corpus has 9 tokens"), repr(proc.stderr)
