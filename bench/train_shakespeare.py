"""Benchmark `tutor train --preset shakespeare-char` against a plain PyTorch baseline.

    python bench/train_shakespeare.py [DATA] [--compare-iters 300] [--no-full] [--out DIR]

1. Speed: the same model and recipe, trained two ways, alternating chunks of steps so that
   noise from other work on the machine hits both alike:
   - baseline: a plain nanoGPT-like model and loop written here (eager, foreach AdamW,
     `loss.item()` every step, batches stacked from slices), as nanoGPT runs on a CPU;
   - tutor: the product's own step (`tutor.gpt.train.make_step`) with the preset's settings.
2. Quality: the full 2,000-step run through `tutor.gpt.train.train`, with val loss at every
   eval, final val loss, ms/iter and tokens/s; the loss curve lands in DIR/loss.svg.

DATA defaults to ../shared/data/tinyshakespeare.txt relative to the repository.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn import functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tutor.gpt.presets import resolve_config  # noqa: E402
from tutor.gpt.setup import build_run  # noqa: E402
from tutor.gpt.train import lr_at, make_step, train  # noqa: E402


# ---- baseline: a straightforward nanoGPT-like implementation --------------------------------
class BaselineBlock(nn.Module):
    def __init__(self, d: int, h: int) -> None:
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.attn_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class BaselineGPT(nn.Module):
    def __init__(self, vocab: int, block: int, n_layer: int, n_head: int, d: int) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
        self.h = nn.ModuleList(BaselineBlock(d, n_head) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def baseline_step_fn(data: torch.Tensor, vocab: int, c):
    torch.manual_seed(c.seed)
    model = BaselineGPT(vocab, c.block_size, c.n_layer, c.n_head, c.n_embd)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c.weight_decay}, {"params": other, "weight_decay": 0.0}],
                            lr=c.lr, betas=(c.beta1, c.beta2))  # fmt: skip
    n = int(0.9 * len(data))
    train_data = data[:n]

    def get_batch():
        ix = torch.randint(len(train_data) - c.block_size, (c.batch_size,))
        x = torch.stack([train_data[i : i + c.block_size] for i in ix])
        y = torch.stack([train_data[i + 1 : i + 1 + c.block_size] for i in ix])
        return x, y

    def step(it: int) -> float:
        for g in opt.param_groups:
            g["lr"] = lr_at(it, c)
        x, y = get_batch()
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    step.model = model
    return step


# ---- measurement ---------------------------------------------------------------------------
def tutor_step_fn(data_path: Path, work: Path, name: str, *, fused: bool = False, **overrides):
    config = resolve_config("shakespeare-char", **overrides)
    run = build_run([data_path], work / f"speed-{name}", config, resume=False, overwrite=True)
    if fused:  # experiment: fused AdamW on the CPU
        groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in run.optimizer.param_groups]
        run.optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2), fused=True)
    step = make_step(run)
    return run, config, (lambda i: step(lr_at(i, config)))


def compare(data_path: Path, iters: int, chunk: int, work: Path, variants: list[str], **overrides) -> dict:
    """Median ms/iter of each implementation over alternating chunks of `chunk` steps."""
    fns = {}
    warm = {}
    run = config = None
    for name in variants:
        opts = dict(overrides, compile=True if "compile" in name else overrides.get("compile"))
        run, config, fn = tutor_step_fn(data_path, work, name, fused="fused" in name, **opts)
        t = time.perf_counter()
        for i in range(10):
            fn(i)
        warm[name] = time.perf_counter() - t
        fns[name] = fn
    data = torch.cat([run.batches.splits["train"], run.batches.splits["val"]])
    fns = {"baseline": baseline_step_fn(data, len(run.tokenizer), config), **fns}
    for i in range(10):
        fns["baseline"](i)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for done in range(10, 10 + iters, chunk):
        for name, fn in fns.items():
            t = time.perf_counter()
            for i in range(done, done + chunk):
                loss = fn(i)
            float(loss)  # one sync per chunk (a no-op on CPU)
            times[name].append(1000 * (time.perf_counter() - t) / chunk)
    return {"threads": run.threads, "ms": {k: statistics.median(v) for k, v in times.items()}, "warm": warm,
            "chunks": len(times["baseline"])}  # fmt: skip


@torch.no_grad()
def exact_val_loss(forward, val: torch.Tensor, block: int) -> float:
    """Mean loss over every non-overlapping window of the val split (no sampling noise)."""
    starts = torch.arange(0, len(val) - block - 1, block)
    total = 0.0
    for i in range(0, len(starts), 128):
        w = val[starts[i : i + 128, None] + torch.arange(block + 1)]
        total += forward(w[:, :-1].contiguous(), w[:, 1:].contiguous())[1].item() * len(w)
    return total / len(starts)


def baseline_full(data: torch.Tensor, vocab: int, config) -> float:
    """Train the baseline for the full recipe; return its exact val loss."""
    from tutor.gpt.setup import cpu_threads

    torch.set_num_threads(cpu_threads(config.threads))
    step = baseline_step_fn(data, vocab, config)
    for i in range(config.steps):
        step(i)
    return exact_val_loss(step.model.eval(), data[int(0.9 * len(data)) :], config.block_size)


def full_run(data_path: Path, out: Path, **overrides) -> dict:
    config = resolve_config("shakespeare-char", **overrides)
    evals: list[tuple[int, float, float]] = []

    def on_event(event) -> None:
        if event.kind == "eval":
            evals.append((event.step, event.train_loss, event.val_loss))
            print(f"  step {event.step:5d}  train {event.train_loss:.4f}  val {event.val_loss:.4f}", flush=True)

    t = time.perf_counter()
    result = train([data_path], out, config, overwrite=True, on_event=on_event)
    return {"evals": evals, "summary": result.summary, "total_s": time.perf_counter() - t}


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(REPO.parent / "shared/data/tinyshakespeare.txt"))
    parser.add_argument("--compare-iters", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--no-full", action="store_true", help="skip the 2,000-step run")
    parser.add_argument("--out", default=str(REPO / "out/bench-shakespeare"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--baseline-full", action="store_true", help="also train the baseline 2,000 steps")
    parser.add_argument("--variants", default="eager", help="tutor variants to time: eager,fused,compile")
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    data, out = Path(args.data), Path(args.out)
    if not data.is_file():
        sys.exit(f"{data} not found; pass the path to tinyshakespeare.txt")
    overrides = dict(threads=args.threads, compile=args.compile, seed=args.seed)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {cpu_model()} · "
          f"{len(os.sched_getaffinity(0))} usable cores · torch {torch.__version__}")  # fmt: skip
    print(f"command: python bench/train_shakespeare.py {' '.join(sys.argv[1:])}\n")
    if args.compare_iters:
        s = compare(data, args.compare_iters, args.chunk, out.parent, args.variants.split(","), **overrides)
        tok = 12 * 64
        base = s["ms"]["baseline"]
        print("| implementation | threads | ms/iter (median of chunks) | tokens/s | vs baseline |")
        print("|---|---|---|---|---|")
        for name, ms in s["ms"].items():
            label = "baseline (plain PyTorch, eager)" if name == "baseline" else f"tutor {name}"
            print(f"| {label} | {s['threads']} | {ms:.1f} | {1000 * tok / ms:,.0f} | {base / ms:.2f}x |")
        print(f"\n{s['chunks']} alternating chunks of {args.chunk} iters each; warm-up of 10 iters "
              + ", ".join(f"{k} {v:.1f}s" for k, v in s["warm"].items()) + "\n")  # fmt: skip
    if not args.no_full:
        print("full run (shakespeare-char, 2,000 steps):")
        r = full_run(data, out, **overrides)
        s = r["summary"]
        print("\n| step | train loss | val loss |\n|---|---|---|")
        for step, tr, va in r["evals"]:
            print(f"| {step} | {tr:.4f} | {va:.4f} |")
        print(f"\nfinal val loss {s['final_val_loss']:.4f} · {s['ms_per_step']:.1f} ms/iter · "
              f"{s['tokens_per_s']:,.0f} tokens/s (training steps only) · {r['total_s']:.1f}s total "
              f"incl. data, compile, evals and save · {s['threads']} threads · loss curve {out / 'loss.svg'}")  # fmt: skip
        from tutor.gpt import checkpoint as ckpt
        from tutor.gpt.model import GPT, GPTConfig
        from tutor.gpt.tokenizer import encode, tokenizer_from_json

        state = ckpt.load_checkpoint(out)
        model = GPT(GPTConfig(**state["model_args"]))
        model.load_state_dict(state["model"])
        tok = tokenizer_from_json(state["tokenizer_json"])
        ids = torch.tensor(encode(tok, data.read_text()))
        print(f"exact val loss (every 64-token window of the val split): tutor {exact_val_loss(model.eval(), ids[int(0.9 * len(ids)):], 64):.4f}")
    if args.baseline_full:
        from tutor.gpt.tokenizer import encode, train_char_tokenizer

        text = data.read_text()
        tok = train_char_tokenizer([text])
        ids = torch.tensor(encode(tok, text))
        config = resolve_config("shakespeare-char", **overrides)
        t = time.perf_counter()
        loss = baseline_full(ids, len(tok), config)
        print(f"exact val loss: baseline after {config.steps} steps {loss:.4f} ({time.perf_counter() - t:.0f}s)")


if __name__ == "__main__":
    main()
