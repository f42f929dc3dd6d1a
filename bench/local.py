"""Benchmark the local backend on the embedded SmolLM2-135M, against plain `model.generate`.

    python bench/local.py [--tokens 200] [--quick] [--threads 1] [--weights auto|fp32|bf16|q4]

Measures, each in a fresh subprocess with the backend's default weights ("auto": q4 for the
embedded model): import time of torch and transformers, cold load (GGUF conversion and the
q4 cache, into an empty TUTOR_HOME), warm load (from the cache), time to first token, and
process start to first token. Then, in this process, greedy decode speed of several variants
for the same prompt and number of new tokens, with a sample of each one's text, and greedy
answers of lean fp32 and lean q4 to a few tutor prompts with the key terms each covers.
The machine may be shared: compare ratios within one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = [{"role": "user", "content": "Explain what a hash table is, with an example."}]
QUALITY = [  # (question, key terms a good answer mentions)
    ("Explain what a hash table is, with an example.", ("key", "value", "hash", "index", "collision")),
    ("What is recursion in programming? Give a short example.", ("function", "itself", "base case", "factorial")),
    ("Explain gradient descent in simple terms.", ("loss", "gradient", "step", "learning rate", "minimum")),
]
CHILD = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
import torch
t_torch = time.perf_counter()
import transformers
t_tf = time.perf_counter()
from tutor.backends.local import LocalBackend
from tutor.backends.base import GenerationOptions
backend = LocalBackend(device="cpu")
t1 = time.perf_counter()
backend.load()
t2 = time.perf_counter()
stream = backend.stream(json.loads(sys.argv[1]), GenerationOptions(temperature=0, max_tokens=8))
next(stream)
t3 = time.perf_counter()
stream.close()
print(json.dumps(dict(
    import_torch=t_torch - t0, import_transformers=t_tf - t_torch, load=t2 - t1,
    first_token=t3 - t2, process_start_to_first_token=time.time() - float(sys.argv[2]), peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
)))
"""


def run_child(home: Path, weights: str) -> dict:
    env = dict(os.environ, TUTOR_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TUTOR_LOCAL_WEIGHTS=weights)
    out = subprocess.run(  # the child measures from our clock reading: interpreter start included
        [sys.executable, "-c", CHILD, json.dumps(PROMPT), repr(time.time())],
        env=env, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def decode_variants(model_dir: Path, tokens: int, quick: bool) -> list[dict]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tutor.backends.lean_llama import LeanLlama
    from tutor.backends.local_engines import LeanEngine, Settings

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    text = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, tokenize=False)
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt])
    results: list[dict] = []
    reference: list[int] = []

    def record(name: str, generated: list[int], first: float, total: float) -> None:
        same = next((i for i, (a, b) in enumerate(zip(generated, reference)) if a != b), min(len(generated), len(reference)))
        results.append(dict(
            variant=name, tokens=len(generated), ttft=first, tok_s=(len(generated) - 1) / (total - first),
            same_as_baseline=f"{same}/{len(reference) or len(generated)}",
            sample=tokenizer.decode(generated, skip_special_tokens=True)[:110].replace("\n", " "),
        ))
        print(f"  {name:28s} {results[-1]['tok_s']:6.1f} tok/s  {results[-1]['same_as_baseline']}", flush=True)

    def hf(name: str, dtype, **kwargs) -> None:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype).eval()
        from transformers.generation.streamers import BaseStreamer

        class Clock(BaseStreamer):
            def __init__(self):
                self.times = []

            def put(self, value):
                self.times.append(time.perf_counter())

            def end(self):
                pass

        clock = Clock()
        start = time.perf_counter()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens, min_new_tokens=tokens,
                             do_sample=False, streamer=clock, **kwargs)
        total = time.perf_counter() - start
        generated = out[0, len(prompt):].tolist()
        if not reference:
            reference.extend(generated)
        record(name, generated, clock.times[1] - start, total)

    engines: dict[str, LeanEngine] = {}

    def lean(name: str, fmt: str, threads: int | None = None) -> None:
        previous = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        if fmt not in engines:
            engines[fmt] = LeanEngine(LeanLlama.from_dir(model_dir, fmt))  # q4: from the children's cache
        settings = Settings(temperature=0, top_p=1.0, top_k=None, repetition_penalty=1.0,
                            max_new_tokens=tokens, seed=None, stop_ids=frozenset())
        times, generated = [], []
        start = time.perf_counter()
        engines[fmt].run(prompt, settings, lambda t: (times.append(time.perf_counter()), generated.append(t)), __import__("threading").Event())
        record(name, generated, times[0] - start, time.perf_counter() - start)
        torch.set_num_threads(previous)

    print(f"decode, greedy, {tokens} new tokens, prompt {len(prompt)} tokens, {torch.get_num_threads()} threads:")
    hf("generate fp32 (baseline)", torch.float32)
    hf("generate bf16", torch.bfloat16)
    if not quick:
        hf("generate fp32 static cache", torch.float32, cache_implementation="static")
    lean("lean fp32", "fp32")
    if not quick:
        lean("lean bf16", "bf16")
    threads = torch.get_num_threads()
    other = 2 if threads == 1 else 1
    lean(f"lean q4, {threads} thread(s)", "q4")
    lean(f"lean q4, {other} thread(s)", "q4", threads=other)
    hf("generate fp32 (baseline again)", torch.float32)  # the load may change during the run
    lean(f"lean q4, {threads} thread(s) again", "q4")
    return results


def quality_samples(model_dir: Path, tokens: int) -> list[dict]:
    """Greedy answers of lean fp32 and lean q4 to the QUALITY prompts, with key-term coverage."""
    import threading

    from transformers import AutoTokenizer

    from tutor.backends.lean_llama import LeanLlama
    from tutor.backends.local_engines import LeanEngine, Settings

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    settings = Settings(temperature=0, top_p=1.0, top_k=None, repetition_penalty=1.1,  # the backend's default
                        max_new_tokens=tokens, seed=None, stop_ids=frozenset({tokenizer.eos_token_id}))
    engines = {fmt: LeanEngine(LeanLlama.from_dir(model_dir, fmt)) for fmt in ("fp32", "q4")}
    samples = []
    for question, terms in QUALITY:
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False)
        prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
        row = dict(question=question, terms=terms)
        for fmt, engine in engines.items():
            ids: list[int] = []
            engine.run(prompt, settings, ids.append, threading.Event())
            answer = tokenizer.decode(ids, skip_special_tokens=True)
            row[fmt] = answer
            row[fmt + "_ids"] = ids
            row[fmt + "_terms"] = [t for t in terms if t in answer.lower()]
        row["same"] = next((i for i, (a, b) in enumerate(zip(row["fp32_ids"], row["q4_ids"])) if a != b),
                           min(len(row["fp32_ids"]), len(row["q4_ids"])))
        samples.append(row)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="skip the slower variants")
    parser.add_argument("--warm-runs", type=int, default=3, help="warm starts to take the best of")
    parser.add_argument("--weights", default="auto", help="TUTOR_LOCAL_WEIGHTS of the load/first-token children")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the decode runs (the backend uses 1)")
    parser.add_argument("--sample-tokens", type=int, default=120, help="max new tokens of the quality samples")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tutor-bench-"))
    print("cold start (converts the GGUF into a fresh TUTOR_HOME) ...", flush=True)
    cold = run_child(home, args.weights)
    print(f"warm start (from the cache) x{args.warm_runs} ...", flush=True)
    warm_runs = [run_child(home, args.weights) for _ in range(args.warm_runs)]
    warm = min(warm_runs, key=lambda r: r["process_start_to_first_token"])
    model_dir = next(p for p in (home / "cache" / "models").iterdir() if not p.name.startswith("."))
    os.environ["TUTOR_HOME"] = str(home)  # the q4 cache the children built
    import torch

    torch.set_num_threads(args.threads)
    try:
        variants = decode_variants(model_dir, args.tokens, args.quick)
        samples = quality_samples(model_dir, args.sample_tokens)
    finally:
        shutil.rmtree(home, ignore_errors=True)  # the conversion is 0.5 GB

    print()
    print(f"{'measure':44s} {'cold':>8s} {'warm':>8s}")
    for key, label in [
        ("import_torch", "import torch (s)"),
        ("import_transformers", "import transformers (s)"),
        ("load", "LocalBackend.load() (s)"),
        ("first_token", "first token after load (s)"),
        ("process_start_to_first_token", "process start to first token (s)"),
        ("peak_rss_mb", "peak RSS (MB)"),
    ]:
        print(f"{label:44s} {cold[key]:8.2f} {warm[key]:8.2f}")
    print(f"{'warm load + first token, imports excluded (s)':44s} {'':8s} {warm['load'] + warm['first_token']:8.2f}")
    print()
    baselines = [v["tok_s"] for v in variants if v["variant"].startswith("generate fp32 (baseline")]
    base = sum(baselines) / len(baselines)  # one run early, one late: the machine is shared
    print(f"{'variant':30s} {'tok/s':>7s} {'x base':>7s} {'TTFT s':>7s} {'same':>8s}  sample")
    for v in variants:
        print(f"{v['variant']:30s} {v['tok_s']:7.1f} {v['tok_s'] / base:7.2f} {v['ttft']:7.3f} {v['same_as_baseline']:>8s}  {v['sample'][:70]}")
    print()
    print(f"quality: greedy answers (repetition penalty 1.1, up to {args.sample_tokens} tokens), lean fp32 vs q4")
    for row in samples:
        print(f"\nQ: {row['question']}   same tokens: {row['same']}/{len(row['fp32_ids'])}")
        for fmt in ("fp32", "q4"):
            print(f"  [{fmt}] key terms {len(row[fmt + '_terms'])}/{len(row['terms'])} {row[fmt + '_terms']}")
            print("    " + row[fmt].replace("\n", " / "))
    if args.json:
        for row in samples:
            row.pop("fp32_ids"), row.pop("q4_ids")
        args.json.write_text(json.dumps(dict(cold=cold, warm=warm, warm_runs=warm_runs, variants=variants,
                                             samples=samples), indent=2))


if __name__ == "__main__":
    main()
