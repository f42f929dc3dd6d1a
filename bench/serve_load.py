"""Load test for `tutor serve`: 1, 4 and 16 concurrent streaming clients on loopback.

Starts `tutor serve` as a subprocess (the default model, or --model), then for each level runs
that many client threads with the official `openai` SDK. The clients share the level's
`--requests` streaming requests (at least one each), sending one after another, bounded by
`--time-limit` seconds per level; a 503 is retried after its `retry-after` (and counted),
anything else that is not a complete stream with a finish_reason is a failure. Prints a table
and, with --out FILE, writes it as a Markdown section (the one in BENCHMARKS.md came from it).

    python bench/serve_load.py                      # the default model, levels 1 4 16
    python bench/serve_load.py --model smollm2 --parallel 1 --levels 1 4   # one slot: the baseline
    python bench/serve_load.py --model DIR --levels 1 4 --max-tokens 32

One short request warms the model up first. Time to first token counts from sending the
request, so it includes the wait in the queue. A level's time limit stops new requests; the
ones in flight finish, so a level can run past it.
Tokens/s is all completion tokens of a level (from the usage chunks) over its wall time; the
last column is that against the first level's, measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = [
    {"role": "system", "content": "You are a patient tutor."},
    {"role": "user", "content": "Explain recursion to a beginner, with one short example."},
]


@dataclass
class Level:
    clients: int
    remaining: int  # requests not yet taken by a client
    ok: int = 0
    busy: int = 0  # 503 answers (each retried after retry-after)
    failed: int = 0
    gave_up: int = 0  # still refused with 503 when the time limit ended
    tokens: int = 0
    ttft: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, error: str) -> bool:
        with self.lock:
            self.failed += 1
            self.errors.append(error)
        return True  # the request is over; the client goes on


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str, str]:
    """`tutor serve` on a free port; returns (process, base URL, model id) once it listens."""
    from tutor.cli.app import app

    if any((c.name or c.callback.__name__) == "serve" for c in app.registered_commands):
        command = [sys.executable, "-m", "tutor", "serve"]
    else:  # before tutor.cli registers the command
        command = [sys.executable, "-c", "import typer; from tutor.cli.serve import serve; typer.run(serve)"]
    command += ["--port", "0", "--queue", str(args.queue), "--device", args.device]
    if args.parallel:
        command += ["--parallel", str(args.parallel)]
    if args.model:
        command += ["--model", args.model]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        match = re.search(r"Serving (\S+) on (http://\S+/v1)", line)
        if match:
            break
    else:
        raise SystemExit("tutor serve did not start:\n" + "".join(seen))
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # drain the access log
    return proc, match.group(2), match.group(1)


def one_client(level: Level, url: str, model: str, args: argparse.Namespace, deadline: float) -> None:
    import openai

    client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=args.time_limit + 60)
    while time.monotonic() < deadline:
        with level.lock:
            if level.remaining == 0:
                return
            level.remaining -= 1
            seed = level.remaining
        if not one_request(level, client, model, args, deadline, seed):
            return


def one_request(level: Level, client, model: str, args: argparse.Namespace, deadline: float, seed: int) -> bool:
    """Send one streaming request, again after each 503; False when the time limit ran out."""
    import openai

    while True:
        sent = time.perf_counter()
        first = finish = usage = None
        try:
            stream = client.chat.completions.create(
                model=model,
                messages=PROMPT,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=args.max_tokens,
                temperature=0.7,
                seed=seed,
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content and first is None:
                    first = time.perf_counter() - sent
                if chunk.choices and chunk.choices[0].finish_reason:
                    finish = chunk.choices[0].finish_reason
                if chunk.usage is not None:
                    usage = chunk.usage
        except openai.APIStatusError as exc:
            if exc.status_code == 503 and "retry-after" in exc.response.headers:
                wait = float(exc.response.headers["retry-after"])
                with level.lock:
                    level.busy += 1
                    if time.monotonic() + wait >= deadline:
                        level.gave_up += 1
                        return False
                time.sleep(wait)
                continue
            return level.fail(f"HTTP {exc.status_code}: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not stop
            return level.fail(f"{type(exc).__name__}: {exc}")
        if finish is None or usage is None:
            return level.fail("stream ended without a finish_reason or usage")
        with level.lock:
            level.ok += 1
            level.tokens += usage.completion_tokens
            if first is not None:
                level.ttft.append(first)
        return True


def warm_up(url: str, model: str) -> None:
    """One short answer first, so that no level pays for the model's first-call set-up."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=300)
    client.chat.completions.create(model=model, messages=PROMPT, max_tokens=4)


def run_level(clients: int, url: str, model: str, args: argparse.Namespace) -> Level:
    level = Level(clients, remaining=max(args.requests, clients))
    deadline = time.monotonic() + args.time_limit
    threads = [threading.Thread(target=one_client, args=(level, url, model, args, deadline)) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    level.wall = time.perf_counter() - started
    return level


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def table(levels: list[Level]) -> str:
    rows = [
        "| clients | completed | 503 (retried) | failed | gave up | TTFT p50 s | TTFT p95 s | tokens | wall s | tokens/s | vs first level |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    base = levels[0].tokens / levels[0].wall if levels and levels[0].wall else None
    for lv in levels:
        p50, p95 = percentile(lv.ttft, 50), percentile(lv.ttft, 95)
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        rows.append(
            f"| {lv.clients} | {lv.ok} | {lv.busy} | {lv.failed} | {lv.gave_up} | {fmt(p50)} | {fmt(p95)} | "
            f"{lv.tokens} | {lv.wall:.1f} | {lv.tokens / lv.wall:.1f} | "
            f"{'-' if not base else f'{lv.tokens / lv.wall / base:.2f}x'} |"
        )
    return "\n".join(rows)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.system()} {platform.release()}, {cpu}, {usable} usable cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="local model for tutor serve (default: TUTOR_LOCAL_MODEL or qwen-1.5b)")
    parser.add_argument("--parallel", type=int, help="tutor serve --parallel (default: its own)")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16], help="concurrent clients per level")
    parser.add_argument("--requests", type=int, default=8, help="requests per level, at least one per client")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--queue", type=int, default=8, help="tutor serve --queue")
    parser.add_argument("--time-limit", type=float, default=180.0, help="seconds per level before clients stop")
    parser.add_argument("--out", type=Path, help="also write the Markdown section to this file")
    parser.add_argument("--note", default="", help="a line added under the table in --out")
    parser.add_argument("--url", help="load an already running OpenAI-compatible server (e.g. vLLM) at this base URL "
                                      "instead of starting tutor serve; --model names its model")  # fmt: skip
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.url:
        proc, url, model = None, args.url, args.model or "default"
    else:
        proc, url, model = start_server(args)
    try:
        warm_up(url, model)
        levels = []
        for clients in args.levels:
            level = run_level(clients, url, model, args)
            levels.append(level)
            print(f"{clients} clients: {level.ok} ok, {level.busy} x 503, {level.failed} failed", file=sys.stderr)
            for error in level.errors[:5]:
                print(f"  {error}", file=sys.stderr)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)

    result = table(levels)
    print(result)
    command = "python bench/serve_load.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## tutor serve under load ({model})",
        "",
        f"- date: {when}",
        f"- machine: {machine()}",
        f"- command: `{command.strip()}`",
        f"- each level: {args.requests} streaming requests (at least one per client), max_tokens={args.max_tokens}, "
        f"server queue={args.queue}, {args.time_limit:g} s limit per level",
    ]
    if load is not None:
        lines.append(f"- 1-minute load average when it started: {load:.1f} (other jobs share this machine)")
    text = "\n".join(lines) + f"\n\n{result}\n"
    if args.note:
        text += f"\n{args.note}\n"
    if args.out is not None:
        args.out.write_text(text)
        print(f"\nwritten to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
