"""`tutor train` and `tutor sample`: Typer command functions, registered by `tutor.cli`.

torch and transformers are imported inside the functions, so `tutor --help` stays instant.
The Rich progress bar lives here; the library reports progress through `TrainEvent`s.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tutor.errors import UsageError
from tutor.ui import stderr_console, stdout_console

EXIT_INTERRUPTED = 130
_PANEL_MODEL = "Model (ignored with --init-from)"
_PANEL_RUN = "Run"


def _quiet_transformers() -> None:
    """No tqdm bars from transformers while saving or loading: our own output is enough."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _command_line(data: list[Path], out: Path) -> str:
    return "tutor train " + " ".join(shlex.quote(str(p)) for p in data) + f" --out {shlex.quote(str(out))} --resume"


def train(
    data: Annotated[list[Path], typer.Argument(help="Text files, or folders of .txt/.md files.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the model, checkpoint and metrics.")],
    preset: Annotated[Optional[str], typer.Option(help="shakespeare-char (default), tiny, small; finetune with --init-from.", rich_help_panel=_PANEL_RUN)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Optimizer steps in total.", rich_help_panel=_PANEL_RUN)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sequences per step.", rich_help_panel=_PANEL_RUN)] = None,
    block_size: Annotated[Optional[int], typer.Option(help="Context length in tokens.", rich_help_panel=_PANEL_RUN)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (cosine-decays to lr/10).", rich_help_panel=_PANEL_RUN)] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu or cuda.", rich_help_panel=_PANEL_RUN)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (weights, batches).", rich_help_panel=_PANEL_RUN)] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Steps between validation-loss estimates.", rich_help_panel=_PANEL_RUN)] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads (default: the cores this process may use).", rich_help_panel=_PANEL_RUN)] = None,
    compile: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help="torch.compile the model (slow start, faster steps).", rich_help_panel=_PANEL_RUN)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.", rich_help_panel=_PANEL_RUN)] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out if it exists.", rich_help_panel=_PANEL_RUN)] = False,
    tokenizer: Annotated[Optional[str], typer.Option(help="char, or bpe (byte-level BPE trained on DATA).", rich_help_panel=_PANEL_MODEL)] = None,
    vocab_size: Annotated[Optional[int], typer.Option(help="BPE vocabulary size.", rich_help_panel=_PANEL_MODEL)] = None,
    init_from: Annotated[Optional[str], typer.Option(help="Fine-tune smollm2 or a model DIR instead of training from scratch.")] = None,
) -> None:
    """Train a small GPT on text (or fine-tune a model on your notes) and save it for `--model DIR`."""
    import threading

    from tutor.gpt.presets import resolve_config
    from tutor.gpt.train import config_for_resume, train as run_training

    _quiet_transformers()
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pick one")
    if init_from and (tokenizer or vocab_size):
        raise UsageError("--tokenizer/--vocab-size do not apply with --init-from: the base model's tokenizer is kept")
    overrides = dict(steps=steps, batch_size=batch_size, block_size=block_size, lr=lr, device=device, seed=seed,
                     eval_every=eval_every, threads=threads, compile=compile, tokenizer=tokenizer,
                     vocab_size=vocab_size, init_from=init_from)  # fmt: skip
    if resume:
        if preset is not None:
            raise UsageError("--preset cannot change on --resume; the checkpoint has the settings")
        config = config_for_resume(out, **overrides)
    else:
        config = resolve_config(preset or ("finetune" if init_from else "shakespeare-char"), **overrides)
    err = stderr_console()
    from tutor.train_progress import training_progress

    progress = training_progress(err)
    task = progress.add_task("train", total=config.steps, train=None, val=None, tps=None)

    def on_event(event) -> None:
        if event.kind == "start":
            info = event.info
            err.print(
                f"{info['parameters'] / 1e6:.2f}M parameters · {info['data']['tokens']:,} tokens "
                f"(vocab {info['vocab_size']}) · {info['device']} · {info['threads']} threads"
                + (f" · resuming at step {event.step}" if event.step else "")
            )
            progress.update(task, completed=event.step)
            progress.start()
        elif event.kind == "step":
            progress.update(task, completed=event.step, train=event.train_loss, tps=event.tokens_per_s)
        elif event.kind == "eval":
            progress.update(task, completed=event.step, val=event.val_loss)

    try:
        result = run_training(data, out, config, resume=resume, overwrite=overwrite, on_event=on_event,
                              stop=threading.Event())  # fmt: skip
    finally:
        progress.stop()
    if result.interrupted:
        err.print(f"stopped at step {result.step}/{result.steps}; checkpoint saved in {out}")
        err.print(f"resume with: {_command_line(data, out)}")
        raise typer.Exit(EXIT_INTERRUPTED)
    s = result.summary
    console = stdout_console(highlight=False)
    console.print(
        f"done: {s['steps']} steps · val loss {s['final_val_loss']:.4f} · train loss {s['final_train_loss']:.4f} "
        f"· {s['wall_time_s']:.1f}s"
    )
    console.print(f"model saved in {out} (metrics.csv, loss.svg, training.json); try: tutor sample {shlex.quote(str(out))}")


def sample(
    model: Annotated[str, typer.Argument(help="A model directory (e.g. from `tutor train`), or smollm2.")],
    prompt: Annotated[str, typer.Option(help="Text to continue.")] = "",
    max_tokens: Annotated[int, typer.Option(help="Tokens to generate.")] = 300,
    temperature: Annotated[float, typer.Option(help="0 = greedy; higher = more random.")] = 0.8,
    top_k: Annotated[Optional[int], typer.Option(help="Sample from the k most likely tokens only.")] = 200,
    seed: Annotated[Optional[int], typer.Option(help="Make the sample reproducible.")] = None,
) -> None:
    """Stream a raw continuation of --prompt from a trained model."""
    from tutor.backends.base import GenerationOptions

    GenerationOptions(temperature=temperature, max_tokens=max_tokens, top_k=top_k, seed=seed)  # validates
    from tutor.gpt.sample import load_model, sample as generate

    _quiet_transformers()
    lm, tok = load_model(model)
    from tutor.safe_text import safe_text

    write, flush = sys.stdout.write, sys.stdout.flush
    write(safe_text(prompt))
    for chunk in generate(lm, tok, prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k, seed=seed):
        write(safe_text(chunk))  # a model's text never drives the terminal
        flush()
    write("\n")
    flush()
