"""Speed of the offline model on llama.cpp, against llama.cpp's own server in the same run.

    python bench/local.py [--model qwen-1.5b] [--tokens 128] [--rounds 3] [--threads N] [--thread-counts 1 2]

Prints one table:
- decode tok/s with each of `--thread-counts` llama.cpp threads, in alternating rounds (the
  evidence behind `llama_server.default_threads`);
- decode tok/s of tutor's backend and of llama.cpp's own HTTP server (a child process serving
  the same GGUF with the same threads), in alternating rounds, and their ratio;
- a revision's time to first token against the first answer's (llama.cpp's prompt cache);
- warm process start to first words (`tutor explain ... | ...`, first stdout byte), after one
  earlier lesson ran to its end (so its first answer was saved for later processes);
- first ever run: a fresh TUTOR_HOME, so the model is assembled and verified first.
Results are in BENCHMARKS.md, "Offline model speed".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tutor.backends.llama import LlamaBackend
from tutor.conversation import Conversation
from tutor.models.catalog import SHIPPED
from tutor.models.shipped import shipped_gguf
from tutor.options import GenerationOptions
from tutor.prompts import PromptSet

SERVER = """
import json, sys, xllamacpp
p = xllamacpp.CommonParams()
p.model.path, p.n_ctx, p.port = sys.argv[1], 8192, 0
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = int(sys.argv[2])
p.n_batch = p.n_ubatch = 64
p.verbosity, p.warmup = -1, False
server = xllamacpp.Server(p)
print(server.listening_address, flush=True)
sys.stdin.read()
"""


def lesson_messages(topic: str) -> list:
    return Conversation.start(PromptSet(), topic, "intermediate").messages


def server_decode(address: str, messages: list, tokens: int) -> float:
    body = {"messages": messages, "max_tokens": tokens, "temperature": 0, "cache_prompt": False}
    request = urllib.request.Request(
        address + "/v1/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())["timings"]["predicted_per_second"]


def backend_decode(backend: LlamaBackend, messages: list, tokens: int) -> float:
    "".join(backend.stream(messages, GenerationOptions(temperature=0, max_tokens=tokens)))
    return backend.last_usage.tokens_per_second


def offline_env(home: Path) -> dict:
    """The environment of a learner with no OpenAI key and this tutor home."""
    env = {**os.environ, "TUTOR_HOME": str(home)}
    env.pop("OPENAI_API_KEY", None)
    return env


def first_words(args: list[str], home: Path) -> float:
    """Seconds from starting `tutor` to the first byte of the answer on stdout."""
    env = offline_env(home)
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "tutor", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    child.stdout.read(1)
    elapsed = time.perf_counter() - start
    child.kill()
    child.wait()
    return elapsed


def earlier_lesson(args: list[str], home: Path) -> None:
    """A short lesson run to its end, as a learner's previous one was: its first answer is saved."""
    env = offline_env(home)
    subprocess.run([sys.executable, "-m", "tutor", *args, "--max-tokens", "16"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="qwen-1.5b", choices=sorted(SHIPPED))
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--thread-counts", type=int, nargs="*", default=[1, 2])
    args = p.parse_args()
    path = shipped_gguf(SHIPPED[args.model])
    messages = lesson_messages("Recursion")
    by_threads: dict[int, list[float]] = {n: [] for n in args.thread_counts}
    if by_threads:
        counted = {n: LlamaBackend(path=path, model=args.model, device="cpu", threads=n) for n in by_threads}
        for _ in range(args.rounds):
            for n, each in counted.items():
                by_threads[n].append(backend_decode(each, messages, args.tokens))
        for each in counted.values():
            each.close()
    backend = LlamaBackend(path=path, model=args.model, device="cpu", threads=args.threads)
    backend.load()
    threads = backend.threads

    server = subprocess.Popen([sys.executable, "-c", SERVER, str(path), str(threads)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    address = server.stdout.readline().strip()
    ours, theirs = [], []
    try:
        for _ in range(args.rounds):  # alternate, so load on the shared machine hits both alike
            ours.append(backend_decode(backend, messages, args.tokens))
            theirs.append(server_decode(address, messages, args.tokens))
    finally:
        server.stdin.close()
        server.wait()

    first_ttft, revision_ttft = [], []
    for topic in ("Entropy", "Photosynthesis", "Hash tables")[: args.rounds]:
        first = lesson_messages(topic)
        answer = "".join(backend.stream(first, GenerationOptions(temperature=0, max_tokens=args.tokens)))
        first_ttft.append(backend.last_usage.time_to_first_token)
        revision = first + [{"role": "assistant", "content": answer}, {"role": "user", "content": "simpler, please"}]
        "".join(backend.stream(revision, GenerationOptions(temperature=0, max_tokens=8)))
        revision_ttft.append(backend.last_usage.time_to_first_token)
    backend.close()

    explain = ["explain", "Recursion", "--backend", "local", "--model", args.model, "--no-feedback", "--no-history"]
    with tempfile.TemporaryDirectory() as fresh:
        first_run = first_words(explain, Path(fresh))  # assembles and verifies the model first
        earlier_lesson(explain, Path(fresh))
        warm = [first_words(explain, Path(fresh)) for _ in range(args.rounds)]

    med = statistics.median
    table = Table(title=f"{args.model} on llama.cpp, {threads} thread(s), {args.tokens} tokens, load {os.getloadavg()[0]:.1f}")
    for column in ("measure", "median", "min", "max", "target"):
        table.add_column(column)
    fmt = lambda xs: (f"{med(xs):.2f}", f"{min(xs):.2f}", f"{max(xs):.2f}")  # noqa: E731
    ratios = [o / t for o, t in zip(ours, theirs)]
    for n, speeds in by_threads.items():
        table.add_row(f"decode tok/s, {n} thread(s)", *fmt(speeds), "")
    table.add_row("decode tok/s, tutor", *fmt(ours), "")
    table.add_row("decode tok/s, llama.cpp server", *fmt(theirs), "")
    table.add_row("ratio tutor / server (per round)", *fmt(ratios), ">= 0.9")
    table.add_row("first answer, first token (s)", *fmt(first_ttft), "")
    table.add_row("revision, first token (s)", *fmt(revision_ttft), "<= first answer's")
    table.add_row("warm start to first words (s)", *fmt(warm), "<= 5")
    table.add_row("first ever run to first words (s)", *fmt([first_run]), "<= 30")
    Console().print(table)


if __name__ == "__main__":
    main()
