"""`tutor train` and `tutor sample`: Typer command functions, registered by `tutor.cli.app`.

torch and transformers are imported inside the functions, so `tutor --help` stays instant.
What a run shows is `tutor.cli.progress`; the library reports progress through `TrainEvent`s.
"""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tutor.cli.console import debug_requested, stderr_console, stdout_console
from tutor.errors import EXIT_INTERRUPTED, TutorError, UsageError
from tutor.sizes import human_size

_PANEL_MODEL = "Model (ignored with --init-from)"
_PANEL_RUN = "Run"


def _quiet_transformers() -> None:
    """No tqdm bars, notices or deprecation warnings from transformers: our own output is enough,
    and `tutor sample` streams model text to stdout, where a library's words would mix in."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _command_line(data: list[Path], out: Path, processes: int = 1) -> str:
    launcher = f"torchrun --standalone --nproc_per_node={processes} -m tutor train " if processes > 1 else "tutor train "
    return launcher + " ".join(shlex.quote(str(p)) for p in data) + f" --out {shlex.quote(str(out))} --resume"


def train(
    data: Annotated[list[Path], typer.Argument(help="Text files, or folders of .txt/.md files.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the model, checkpoint and metrics.")],
    preset: Annotated[Optional[str], typer.Option(help="shakespeare-char (default), tiny, small; finetune with --init-from.", rich_help_panel=_PANEL_RUN)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Optimizer steps in total.", rich_help_panel=_PANEL_RUN)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sequences per micro-batch, per process.", rich_help_panel=_PANEL_RUN)] = None,
    grad_accum: Annotated[Optional[int], typer.Option(help="Micro-batches per process per step (default 1); global batch = batch size x grad accum x processes.", rich_help_panel=_PANEL_RUN)] = None,
    block_size: Annotated[Optional[int], typer.Option(help="Context length in tokens (with --init-from: at most the base model's).", rich_help_panel=_PANEL_RUN)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Peak learning rate (cosine-decays to lr/10).", rich_help_panel=_PANEL_RUN)] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu or cuda.", rich_help_panel=_PANEL_RUN)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (weights, batches).", rich_help_panel=_PANEL_RUN)] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Steps between validation-loss estimates (the last step is always evaluated).", rich_help_panel=_PANEL_RUN)] = None,
    log_every: Annotated[Optional[int], typer.Option(help="Steps between train-loss readings.", rich_help_panel=_PANEL_RUN)] = None,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads per process (default: this process's cores minus the 1-minute load average, shared among torchrun's processes; at least 1).", rich_help_panel=_PANEL_RUN)] = None,
    compile: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help="torch.compile the model (slow start, faster steps).", rich_help_panel=_PANEL_RUN)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint (any number of processes that divides its global batch).", rich_help_panel=_PANEL_RUN)] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out if it exists.", rich_help_panel=_PANEL_RUN)] = False,
    checkpoint: Annotated[bool, typer.Option("--checkpoint/--no-checkpoint", help="Keep checkpoint.pt (weights + optimizer state, about 3x the model) for --resume and Ctrl-C.", rich_help_panel=_PANEL_RUN)] = True,
    tokenizer: Annotated[Optional[str], typer.Option(help="char, or bpe (byte-level BPE trained on DATA).", rich_help_panel=_PANEL_MODEL)] = None,
    vocab_size: Annotated[Optional[int], typer.Option(help="BPE vocabulary size.", rich_help_panel=_PANEL_MODEL)] = None,
    init_from: Annotated[Optional[str], typer.Option(help="Fine-tune smollm2 or a model DIR instead of training from scratch.")] = None,
) -> None:
    """Train a small GPT on text (or fine-tune a model on your notes) and save it for `--model DIR`.

    Several processes (CPU or GPUs, one or more machines): torchrun --standalone
    --nproc_per_node=N -m tutor train ... (see the README).
    """
    from tutor.gpt.distributed import cluster_from_env, join, leave
    from tutor.gpt.setup import pick_device

    cluster = cluster_from_env()
    try:
        if resume and overwrite:
            raise UsageError("--resume and --overwrite contradict each other; pick one")
        if init_from and (tokenizer or vocab_size):
            raise UsageError("--tokenizer/--vocab-size do not apply with --init-from: the base model's tokenizer is kept")
        if resume and not checkpoint:
            raise UsageError("--resume needs the checkpoint that --no-checkpoint would not keep; drop --no-checkpoint")
        overrides = dict(steps=steps, batch_size=batch_size, grad_accum=grad_accum, block_size=block_size, lr=lr,
                         device=device, seed=seed, eval_every=eval_every, log_every=log_every, threads=threads,
                         compile=compile, tokenizer=tokenizer, vocab_size=vocab_size, init_from=init_from)  # fmt: skip
        _check_finite(overrides)
        config = _config(out, preset, resume, cluster.world_size, overrides)
        cluster = join(cluster, pick_device(config.device, cluster))
        _run(data, out, config, cluster, resume=resume, overwrite=overwrite, keep_checkpoint=checkpoint,
             fit_block_size=bool(init_from) and block_size is None and not resume)  # fmt: skip
    except Exception as exc:
        if cluster.speaks_here or isinstance(exc, typer.Exit) or debug_requested():
            raise
        # The other processes on this machine stay quiet: local rank 0 says it once (the
        # errors are the same on every rank, or rank 0's failure is why the others failed).
        raise typer.Exit(exc.exit_code if isinstance(exc, TutorError) else 1) from None
    finally:
        leave(cluster)


def _check_finite(overrides: dict) -> None:
    for name, value in overrides.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number, got {value}")


def _config(out: Path, preset: str | None, resume: bool, world_size: int, overrides: dict):
    from tutor.gpt.presets import resolve_config
    from tutor.gpt.resume import config_for_resume

    if resume:
        if preset is not None:
            raise UsageError("--preset cannot change on --resume; the checkpoint has the settings")
        return config_for_resume(out, world_size=world_size, **overrides)
    return resolve_config(preset or ("finetune" if overrides["init_from"] else "shakespeare-char"), **overrides)


def _run(data: list[Path], out: Path, config, cluster, *, resume: bool, overwrite: bool, keep_checkpoint: bool,
         fit_block_size: bool) -> None:  # fmt: skip
    import threading

    from tutor.gpt.train import train as run_training

    _quiet_transformers()
    err = stderr_console()
    report = None
    if cluster.is_main:
        from tutor.cli.progress import TrainingReport

        report = TrainingReport(err, config.steps, start_line)

    try:
        result = run_training(data, out, config, resume=resume, overwrite=overwrite, on_event=report,
                              stop=threading.Event(), cluster=cluster, keep_checkpoint=keep_checkpoint,
                              fit_block_size=fit_block_size)  # fmt: skip
    finally:
        if report is not None:
            report.stop()
    if result.interrupted:
        if cluster.is_main:
            if keep_checkpoint:
                err.print(f"stopped at step {result.step}/{result.steps}; checkpoint saved in {out}", soft_wrap=True)
                err.print(f"resume with: {_command_line(data, out, cluster.world_size)}", soft_wrap=True)
            else:
                err.print(f"stopped at step {result.step}/{result.steps}; no checkpoint (--no-checkpoint), "
                          f"so this run cannot resume", soft_wrap=True)  # fmt: skip
        # Under torchrun a checkpointed stop is a clean exit on every rank: a non-zero code
        # from any rank makes torchrun kill the others and bury this message in its report.
        raise typer.Exit(0 if cluster.distributed else EXIT_INTERRUPTED)
    if not cluster.is_main:
        return
    from tutor.gpt.checkpoint import disk_sizes

    s = result.summary
    console = stdout_console(highlight=False)
    console.print(
        f"done: {s['steps']} steps · val loss {s['final_val_loss']:.4f} · train loss {s['final_train_loss']:.4f} "
        f"· {s['wall_time_s']:.1f}s", soft_wrap=True,
    )  # fmt: skip
    sizes = disk_sizes(out)
    kept = (f" + checkpoint.pt {human_size(sizes['checkpoint'])} (weights and optimizer state for --resume; "
            "delete it, or pass --no-checkpoint, if you will not continue this run)") if sizes["checkpoint"] else ""  # fmt: skip
    console.print(f"disk: model {human_size(sizes['model'])}{kept}", soft_wrap=True)
    console.print(f"model saved in {out} (metrics.csv, loss.svg, training.json); try: tutor sample {shlex.quote(str(out))}",
                  soft_wrap=True)  # fmt: skip


def start_line(info: dict, step: int) -> str:
    """`0.80M parameters · 1,003,854 tokens (vocab 65) · cpu · 2 threads · global batch 24 = 12 x 1 grad-accum x 2 processes`."""
    threads = f"{info['threads']} thread{'' if info['threads'] == 1 else 's'}"
    processes = info["processes"]
    where = f"cpu · {threads}{' per process' if processes > 1 else ''}" if info["device"] == "cpu" else info["device"]
    batch = (f"global batch {info['global_batch']} = {info['batch_size']} x {info['grad_accum']} grad-accum "
             f"x {processes} process{'' if processes == 1 else 'es'}")  # fmt: skip
    return (
        f"{info['parameters'] / 1e6:.2f}M parameters · {info['data']['tokens']:,} tokens (vocab {info['vocab_size']}) "
        f"· {where} · {batch}" + (f" · resuming at step {step}" if step else "")
    )


def sample(
    model: Annotated[str, typer.Argument(help="A model directory (e.g. from `tutor train`), or smollm2.")],
    prompt: Annotated[str, typer.Option(help="Text to continue.")] = "",
    max_tokens: Annotated[int, typer.Option(help="Tokens to generate.")] = 300,
    temperature: Annotated[float, typer.Option(help="0 = greedy; higher = more random.")] = 0.8,
    top_k: Annotated[Optional[int], typer.Option(help="Sample from the k most likely tokens only.")] = 200,
    seed: Annotated[Optional[int], typer.Option(help="Make the sample reproducible.")] = None,
) -> None:
    """Stream a raw continuation of --prompt from a trained model."""
    from tutor.options import GenerationOptions

    GenerationOptions(temperature=temperature, max_tokens=max_tokens, top_k=top_k, seed=seed)  # validates
    import warnings

    from tutor.gpt.sample import load_model, sample as generate

    _quiet_transformers()
    from tutor.safe_text import safe_text

    write, flush = sys.stdout.write, sys.stdout.flush
    with warnings.catch_warnings():  # FutureWarnings and the like are for developers, not learners
        warnings.simplefilter("ignore")
        lm, tok = load_model(model)
        write(safe_text(prompt))
        for chunk in generate(lm, tok, prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k, seed=seed):
            write(safe_text(chunk))  # a model's text never drives the terminal
            flush()
    write("\n")
    flush()
