"""Everything a training run needs before its first step, and what it writes after its last.

`build_run` reads and checks the data, builds or restores the tokenizer, model and optimizer,
picks the device and thread count, and prepares the output directory. It checks the data
before it touches `--out`, so bad input never leaves a directory behind.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from tutor.errors import ModelError, TrainingError
from tutor.gpt import checkpoint as ckpt
from tutor.gpt.distributed import Cluster, text_from_main
from tutor.gpt.data import Batches, data_hash, read_documents, tokenize_documents
from tutor.gpt.device import choose_device
from tutor.gpt.presets import TrainConfig


def pick_device(requested: str, cluster: Cluster | None = None) -> str:
    """"cpu", "cuda", or under torchrun "cuda:LOCAL_RANK" (one GPU per process)."""
    cluster = cluster or Cluster()
    try:
        device = choose_device(requested)
    except ModelError as exc:
        raise TrainingError(str(exc)) from None
    if device == "cuda" and cluster.distributed:
        count = torch.cuda.device_count()
        if cluster.local_rank >= count:
            raise TrainingError(f"LOCAL_RANK {cluster.local_rank} has no GPU: this machine has {count}; "
                                f"pass --nproc_per_node={count} or fewer to torchrun")  # fmt: skip
        torch.cuda.set_device(cluster.local_rank)
        return f"cuda:{cluster.local_rank}"
    return device


def cpu_threads(requested: int | None, *, load: float | None = None, processes: int = 1) -> int:
    """Torch threads for CPU training, unless `requested`: the usable cores not already busy.

    On a shared machine, threads that outnumber the free cores make every step wait at
    OpenMP barriers for a descheduled thread: with 2 cores and a load of 10 we measured
    190 ms/step on 1 thread and 1,100-2,900 ms on 2. So the 1-minute load average of
    other work is subtracted from the usable cores (at least 1 thread). Several training
    processes on one machine (torchrun) share what is left.
    """
    if requested:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    return max(1, min(cores, cores - int(load)) // max(1, processes))


@dataclass
class Run:
    config: TrainConfig
    out: Path
    device: str
    threads: int
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batches: Batches
    generator: torch.Generator
    tokenizer: Any
    data_hash: str
    saved: dict[str, Any] | None = None  # the checkpoint a resumed run started from
    info: dict[str, Any] = field(default_factory=dict)
    cluster: Cluster = field(default_factory=Cluster)

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step, over every process."""
        return self.config.batch_size * self.config.grad_accum * self.cluster.world_size

    def autocast(self):
        if self.device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()  # CPU bf16 was slower here (see BENCHMARKS.md, training)

    def checkpoint_state(self, step: int, elapsed: float, metrics: list[dict]) -> dict[str, Any]:
        """Everything `--resume` needs, as tensors, numbers, strings, lists and dicts only, so
        that it loads with `torch.load(weights_only=True)`: no pickled objects, no code."""
        return {
            "step": step,
            "world_size": self.cluster.world_size,  # with config.grad_accum: the global batch
            "elapsed": elapsed,
            "metrics": metrics,
            "config": self.config.to_dict(),
            "data_hash": self.data_hash,
            "model": self.model.state_dict(),
            "model_args": asdict(self.model.config) if is_dataclass(getattr(self.model, "config", None)) else None,
            "optimizer": self.optimizer.state_dict(),
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state() if self.device.startswith("cuda") else None,
            "rng_batches": self.generator.get_state(),
            "tokenizer_json": None if self.config.init_from else self.tokenizer.backend_tokenizer.to_str(),
        }

    def summary(self, step: int, metrics: list[dict], *, wall_s: float, run_s: float, eval_s: float) -> dict:
        from tutor import __version__

        evals = [m for m in metrics if m["val_loss"] is not None]
        last = evals[-1] if evals else {}
        steps_this_run = step - (self.saved["step"] if self.saved else 0)
        train_s = max(run_s - eval_s, 1e-9)
        return {
            "tutor_version": __version__,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            # The vocabulary actually built (the config's vocab_size is only a BPE target).
            "config": {**self.config.to_dict(), "vocab_size": self.info["vocab_size"]},
            "data": self.info["data"],
            "data_hash": self.data_hash,
            "steps": step,
            "resumed_from_step": self.saved["step"] if self.saved else None,
            "final_train_loss": last.get("train_loss"),
            "final_val_loss": last.get("val_loss"),
            "best_val_loss": min((m["val_loss"] for m in evals), default=None),
            "parameters": self.info["parameters"],
            "device": self.device,
            "threads": self.threads,
            "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "wall_time_s": round(wall_s, 3),
            "this_run_s": round(run_s, 3),
            "ms_per_step": round(1000 * train_s / steps_this_run, 3) if steps_this_run else None,
            "processes": self.cluster.world_size,
            "global_batch": self.global_batch,
            "vocab_size": self.info["vocab_size"],
            "tokens_per_s": round(steps_this_run * self.global_batch * self.config.block_size / train_s, 1)
            if steps_this_run
            else None,
        }

    def save_final(self, summary: dict, metrics: list[dict]) -> None:
        """Model, tokenizer, training.json and loss.svg; then the run is marked complete."""
        from tutor.gpt.plot import loss_curve_svg

        if self.config.init_from:
            hf = self.model.model
        else:
            from tutor.gpt.model import to_hf

            hf = to_hf(self.model, eos_token_id=self.tokenizer.eos_token_id)
            hf.generation_config.pad_token_id = self.tokenizer.eos_token_id
        hf = hf.to("cpu")
        ckpt.save_model(self.out, hf, self.tokenizer)
        ckpt.write_text(self.out / "loss.svg", loss_curve_svg(metrics, title=f"tutor train: {self.out.name}"))
        ckpt.write_json(self.out / ckpt.SUMMARY, summary)
        ckpt.unmark_incomplete(self.out)


def build_run(
    data: Sequence[str | Path], out: Path, c: TrainConfig, *, resume: bool, overwrite: bool,
    cluster: Cluster | None = None, fit_block_size: bool = False,
) -> Run:  # fmt: skip
    """Everything before the first step. Every process reads the data and the checkpoint;
    rank 0 alone builds the tokenizer (the others receive it) and prepares `out`.

    Args:
        fit_block_size: with --init-from, shrink `block_size` to the base model's context
            instead of refusing (the flag was not given, so the preset's default may not fit).
    """
    cluster = cluster or Cluster()
    docs = read_documents(data)
    digest = data_hash(docs)
    saved = None
    if resume:
        if not (out / ckpt.CHECKPOINT).is_file():
            raise TrainingError(f"nothing to resume: {out / ckpt.CHECKPOINT} does not exist; drop --resume to start a new run")
        saved = ckpt.load_checkpoint(out)
        if saved["data_hash"] != digest:
            raise TrainingError(f"the DATA differs from the data {out} was trained on; resume with the same files or start over with --overwrite")
        if saved["step"] > c.steps:
            raise TrainingError(f"the checkpoint is at step {saved['step']}; pass --steps {saved['step']} or more to resume")
    device = pick_device(c.device, cluster)
    threads = cpu_threads(c.threads, processes=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if device == "cpu":
        torch.set_num_threads(threads)
    torch.manual_seed(c.seed)
    generator = torch.Generator().manual_seed(c.seed)

    if c.init_from:
        from tutor.gpt.finetune import CausalLM, load_base, resolve_base
        from tutor.models.folder import context_length

        base_path = resolve_base(c.init_from)
        base, tokenizer = load_base(base_path)
        context = context_length(base.config) or 1 << 30  # no limit given: any block size
        if c.block_size > context:
            if not fit_block_size:
                raise TrainingError(f"--block-size {c.block_size} exceeds the base model's context of {context}; "
                                    f"pass --block-size {context} or less")  # fmt: skip
            c = replace(c, block_size=context)
        model: torch.nn.Module = CausalLM(base)
    else:
        from tutor.gpt.model import GPT, GPTConfig
        from tutor.gpt.tokenizer import build_tokenizer, tokenizer_from_json

        if saved is not None:
            tokenizer = tokenizer_from_json(saved["tokenizer_json"])
        else:
            text = None
            if cluster.is_main:  # BPE training need not be deterministic across processes: build once
                text = build_tokenizer(c.tokenizer, [d.text for d in docs], vocab_size=c.vocab_size).backend_tokenizer.to_str()
            tokenizer = tokenizer_from_json(text_from_main(cluster, text, device))
        model = GPT(GPTConfig(vocab_size=len(tokenizer), block_size=c.block_size, n_layer=c.n_layer,
                              n_head=c.n_head, n_embd=c.n_embd, dropout=c.dropout))  # fmt: skip
    ids = tokenize_documents(tokenizer, docs, tokenizer.eos_token_id)
    batches = Batches(ids, block_size=c.block_size, batch_size=c.batch_size, device=device)
    model.to(device)
    optimizer = make_optimizer(model, c, device)
    if saved is not None:
        model.load_state_dict(saved["model"])
        if saved.get("optimizer") is None:
            raise TrainingError(f"{out / ckpt.CHECKPOINT} has no optimizer state to resume from; start again with --overwrite")
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng_torch"])
        rng_cuda = saved.get("rng_cuda")
        if rng_cuda is not None and device.startswith("cuda"):
            if isinstance(rng_cuda, list):  # checkpoints before torchrun kept every GPU's state
                rng_cuda = rng_cuda[0]
            torch.cuda.set_rng_state(rng_cuda)
        generator.set_state(saved["rng_batches"])
    if cluster.is_main:  # only now, after every check: marks the dir incomplete
        ckpt.prepare_out(out, resume=saved is not None, overwrite=overwrite)
    info = {
        "data": {"files": len(docs), "characters": sum(len(d.text) for d in docs), "tokens": len(ids),
                 "train_tokens": batches.tokens("train"), "val_tokens": batches.tokens("val")},  # fmt: skip
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": device,
        "threads": threads,
        "vocab_size": len(tokenizer),
        "processes": cluster.world_size,
        "global_batch": c.batch_size * c.grad_accum * cluster.world_size,
        "batch_size": c.batch_size,
        "grad_accum": c.grad_accum,
        "block_size": c.block_size,
    }
    return Run(c, out, device, threads, model, optimizer, batches, generator, tokenizer, digest, saved, info, cluster)


def make_optimizer(model: torch.nn.Module, c: TrainConfig, device: str) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices (dim >= 2) only, like nanoGPT."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": c.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    extra = {"fused": True} if device.startswith("cuda") else {}
    return torch.optim.AdamW(groups, lr=c.lr, betas=(c.beta1, c.beta2), **extra)
