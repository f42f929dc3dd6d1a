"""`tutor train` and `tutor sample`: tiny runs on a corpus the tests write, all offline."""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tutor.cli.app import TutorGroup
from tutor.cli.train import sample, train
from tutor.errors import TrainingError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tutor.gpt import checkpoint as ckpt  # noqa: E402
from tutor.gpt.presets import resolve_config  # noqa: E402
from tutor.gpt.resume import config_for_resume  # noqa: E402
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
    local = pytest.importorskip("tutor.backends.transformers")
    from tutor.options import GenerationOptions

    _, out = trained
    backend = local.TransformersBackend(model=str(out), device="cpu")
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


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt")
    out = tmp_path / "m"
    result = invoke("train", corpus, "--out", out, *TINY, "--lr", "1e30", "--log-every", "1")
    assert result.exit_code == 1
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("error: the loss became nan at step") and "lower --lr (this run used 1e+30)" in error
    state = ckpt.load_checkpoint(out)  # the step-0 checkpoint, never overwritten by a NaN model
    assert state["step"] == 0 and all(torch.isfinite(v).all() for v in state["model"].values())
    assert not ckpt.is_complete(out) and not (out / "model.safetensors").exists()


def test_resume_refuses_a_checkpoint_that_would_run_code(trained, tmp_path):
    import os
    import shutil

    corpus, full = trained
    out = tmp_path / "copy"
    shutil.copytree(full, out)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    state = ckpt.load_checkpoint(out)
    state["config"]["extra"] = Exploit()
    torch.save(state, out / ckpt.CHECKPOINT)  # pickles the exploit
    result = invoke("train", corpus, "--out", out, "--resume", "--steps", "61")
    assert result.exit_code == 1 and not marker.exists()
    assert result.output.count("\n") == 1 and "is not a tutor checkpoint (it holds pickled objects" in result.output


def test_sample_refuses_pickled_weights_in_one_clean_line(trained, tmp_path):
    import shutil
    import subprocess
    import sys

    _, full = trained
    model = tmp_path / "pickled"
    model.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(full / name, model / name)
    torch.save({"transformer.wte.weight": torch.zeros(2)}, model / "pytorch_model.bin")
    proc = subprocess.run([sys.executable, "-m", "tutor", "sample", str(model)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: {model} has its weights only as a pickle (pytorch_model.bin)")
    assert proc.stderr.count("\n") == 1  # no torch warning, no 8-line explanation


def test_sample_prints_model_text_only(trained):
    """No library warning (FutureWarning, `[transformers] past_key_values ... deprecated`) in the stream."""
    import subprocess
    import sys

    _, out = trained
    proc = subprocess.run([sys.executable, "-m", "tutor", "sample", str(out), "--prompt", "ROMEO:", "--max-tokens", "80",
                           "--seed", "3"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("ROMEO:") and "deprecated" not in proc.stdout and "Warning" not in proc.stdout


def test_the_kv_cache_gives_what_recomputing_the_window_gives(trained):
    from tutor.gpt.sample import generate_ids, load_model

    _, out = trained
    model, tok = load_model(str(out))
    prompt = tok("JULIET:\nthe love")["input_ids"]
    cached = list(generate_ids(model, prompt, max_tokens=70, temperature=0, top_k=None, seed=None))
    history = list(prompt)
    with torch.no_grad():
        for _ in range(70):  # no cache: the last block_size tokens, every time
            history.append(int(model(torch.tensor([history[-48:]])).logits[0, -1].argmax()))
    assert cached == history[len(prompt):]


def test_finetune_default_block_size_fits_a_small_base(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    from tutor.gpt.tokenizer import train_bpe_tokenizer

    notes = write_corpus(tmp_path / "notes.md", chars=4000)
    base = tmp_path / "base"
    tok = train_bpe_tokenizer([notes.read_text()], 300)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32,
                      eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(base)
    tok.save_pretrained(base)
    result = invoke("train", notes, "--out", tmp_path / "ft", "--init-from", base, "--steps", "2")
    assert result.exit_code == 0, result.output  # the finetune preset's 256 became the base's 32
    assert json.loads((tmp_path / "ft" / "training.json").read_text())["config"]["block_size"] == 32
    result = invoke("train", notes, "--out", tmp_path / "ft2", "--init-from", base, "--block-size", "64")
    assert result.exit_code == 1
    assert "--block-size 64 exceeds the base model's context of 32; pass --block-size 32 or less" in result.output


def test_no_checkpoint_keeps_only_the_model_and_sizes_are_reported(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt")
    kept = invoke("train", corpus, "--out", tmp_path / "kept", *TINY, "--steps", "5")
    assert kept.exit_code == 0 and "disk: model " in kept.output and "+ checkpoint.pt " in kept.output
    lean = invoke("train", corpus, "--out", tmp_path / "lean", *TINY, "--steps", "5", "--no-checkpoint")
    assert lean.exit_code == 0, lean.output
    assert "disk: model " in lean.output and "checkpoint.pt" not in lean.output
    assert ckpt.is_complete(tmp_path / "lean") and not (tmp_path / "lean" / ckpt.CHECKPOINT).exists()
    again = invoke("train", corpus, "--out", tmp_path / "kept", "--resume", "--no-checkpoint", "--steps", "6")
    assert again.exit_code == 2 and "--resume needs the checkpoint" in again.output


def test_the_run_is_evaluated_at_its_last_step_whatever_eval_every(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt")
    result = invoke("train", corpus, "--out", tmp_path / "m", *TINY, "--steps", "25")  # tiny: eval_every 20
    assert result.exit_code == 0
    rows = (tmp_path / "m" / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows if r.split(",")[2]] == [0, 20, 25]


def test_training_json_records_the_vocabulary_actually_built(trained):
    from transformers import AutoTokenizer

    _, out = trained
    summary = json.loads((out / "training.json").read_text())
    size = len(AutoTokenizer.from_pretrained(out))
    assert summary["config"]["vocab_size"] == summary["vocab_size"] == size < 100  # not BPE's 1024 target


def test_start_line_counts_threads_and_shows_the_global_batch():
    from tutor.cli.train import start_line

    info = {"parameters": 800_000, "data": {"tokens": 1000}, "vocab_size": 65, "device": "cpu", "threads": 1,
            "processes": 1, "global_batch": 24, "batch_size": 12, "grad_accum": 2}  # fmt: skip
    assert start_line(info, 0) == ("0.80M parameters · 1,000 tokens (vocab 65) · cpu · 1 thread · "
                                   "global batch 24 = 12 x 2 grad-accum x 1 process")  # fmt: skip
    info.update(threads=2, processes=2, global_batch=48)
    assert "cpu · 2 threads per process · global batch 48 = 12 x 2 grad-accum x 2 processes" in start_line(info, 5)
    assert start_line(info, 5).endswith("· resuming at step 5")


def test_progress_line_fits_110_columns():
    from rich.console import Console

    from tutor.cli.progress import training_progress

    console = Console(width=110, color_system=None, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    progress = training_progress(console)
    progress.add_task("t", total=20000, completed=19990, train=1.23456, val=1.45678, val_step=19750, tps=123456.0)
    console.print(progress.make_tasks_table(progress.tasks))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) == 1 and len(lines[0].rstrip()) <= 100, lines
    assert "val 1.4568@19750" in lines[0]  # an old estimate says how old it is


def test_threads_help_says_what_the_code_does():
    import typing

    from tutor.cli.train import train as command
    from tutor.gpt.setup import cpu_threads

    help_text = typing.get_type_hints(command, include_extras=True)["threads"].__metadata__[0].help
    assert "minus the 1-minute load average" in help_text
    assert cpu_threads(None, load=1.0) == max(1, cpu_threads(None, load=0.0) - 1)


def test_sample_of_a_diverged_model_says_so_in_one_line(trained, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, out = trained
    model = AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    model.save_pretrained(tmp_path / "nan")
    AutoTokenizer.from_pretrained(out).save_pretrained(tmp_path / "nan")
    result = invoke("sample", tmp_path / "nan", "--max-tokens", "5")
    assert result.exit_code == 1
    assert result.output.strip().endswith("error: the model's outputs are NaN or infinite (its training diverged); "
                                          "train it again with a lower --lr")  # fmt: skip


def test_off_a_terminal_each_evaluation_is_one_plain_line(tmp_path):
    corpus = write_corpus(tmp_path / "c.txt")
    result = invoke("train", corpus, "--out", tmp_path / "m", *TINY, "--steps", "40")  # CliRunner: not a terminal
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    evals = [line for line in lines if line.startswith("step ")]
    assert [line.split()[1] for line in evals] == ["0/40", "20/40", "40/40"]
    assert all(" · train " in line and " · val " in line for line in evals)
    assert not any(line.startswith("training") or "tok/s" in line for line in lines)  # no bar, wrapped, at the end
