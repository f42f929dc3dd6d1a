"""CPU cost of streaming a long tutor answer as live Markdown: ours against the naive way.

Both renderers get the same synthetic answer, cut into ~4-character tokens and fed as fast
as the renderer takes them, on the same console (100x40, ANSI to an in-memory file) with
Rich's real refresh thread at 8 frames a second:

- ours:  tutor.render.stream_markdown (finished blocks printed once, only the tail is live);
- naive: one `Live`, updated with `Markdown(whole_text)` on every token.

CPU time is `time.process_time()` (all threads of the process, the refresh thread included).

    python bench/render.py                 # N = 1k, 2k, 4k, 8k, 16k; naive up to 8k (minutes)
    python bench/render.py --quick         # N = 250 .. 2k
    python bench/render.py --max-naive 2000
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from tutor.render import stream_markdown

CHARS_PER_TOKEN = 4
WIDTH, HEIGHT = 100, 40
REFRESH_PER_SECOND = 8.0

_SECTIONS = [
    """\
## Part {n}: how recursion unwinds

A recursive function calls itself on a **smaller** input until it reaches a *base case*.
Each call waits on the call stack, so `depth {n}` means {n} frames are alive at once.

""",
    """\
1. Find the base case for step {n}.
2. Shrink the problem:
   - split the input in halves
   - recurse on each half

     ```python
     left = solve(items[:mid])
     ```
   - merge the two answers
3. Check the cost: \\( T(n) = 2T(n/2) + O(n) \\).

""",
    """\
| call | argument | returns | frames |
|------|---------:|--------:|-------:|
| f({n}) | {n} | {n}! | {n} |
| f(2) | 2 | 2 | 2 |
| f(1) | 1 | 1 | 1 |

""",
    """\
The closed form for part {n} is

\\[
\\sum_{{i=1}}^{{{n}}} i = \\frac{{{n}({n}+1)}}{{2}}
\\]

""",
    """\
```python
def factorial(n: int) -> int:
    \"\"\"Return n! for part {n}.\"\"\"
    if n <= 1:
        return 1
    return n * factorial(n - 1)
```

> Tip {n}: write the base case first, then trust the recursive call.

""",
]


def synthetic_answer(tokens: int) -> str:
    """About `tokens` * 4 characters of varied tutor Markdown."""
    target = tokens * CHARS_PER_TOKEN
    parts: list[str] = ["# Recursion, from the ground up\n\n"]
    size, n = len(parts[0]), 0
    while size < target:
        section = _SECTIONS[n % len(_SECTIONS)].format(n=n // len(_SECTIONS) + 1)
        parts.append(section)
        size += len(section)
        n += 1
    return "".join(parts)[:target]


def tokenize(text: str) -> list[str]:
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def bench_console() -> Console:
    return Console(
        file=io.StringIO(),
        width=WIDTH,
        height=HEIGHT,
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )


def ours(tokens: list[str]) -> None:
    stream_markdown(iter(tokens), bench_console(), refresh_per_second=REFRESH_PER_SECOND)


def naive(tokens: list[str]) -> None:
    text = ""
    with Live(console=bench_console(), refresh_per_second=REFRESH_PER_SECOND) as live:
        for token in tokens:
            text += token
            live.update(Markdown(text))


def cpu_seconds(renderer: Callable[[list[str]], None], tokens: list[str]) -> float:
    start = time.process_time()
    renderer(tokens)
    return time.process_time() - start


def rows(sizes: list[int], max_naive: int) -> Iterator[tuple[int, float, float | None]]:
    warm_up = tokenize(synthetic_answer(300))  # imports, lexers and caches load once
    ours(warm_up)
    naive(warm_up)
    for n in sizes:
        tokens = tokenize(synthetic_answer(n))
        ours_s = cpu_seconds(ours, tokens)
        naive_s = cpu_seconds(naive, tokens) if n <= max_naive else None
        yield len(tokens), ours_s, naive_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--max-naive", type=int, default=8000, help="largest N for naive")
    args = parser.parse_args()
    sizes = [250, 500, 1000, 2000] if args.quick else [1000, 2000, 4000, 8000, 16000]

    print(f"console {WIDTH}x{HEIGHT}, truecolor ANSI to memory, {REFRESH_PER_SECOND:g} fps")
    print(f"{'N':>7} {'ours CPU s':>11} {'ours tok/s':>11} {'naive CPU s':>12} {'speedup':>8}")
    results: dict[int, float] = {}
    for n, ours_s, naive_s in rows(sizes, args.max_naive):
        results[n] = ours_s
        naive_col = f"{naive_s:12.2f}" if naive_s is not None else f"{'-':>12}"
        speedup = f"{naive_s / ours_s:7.1f}x" if naive_s is not None else f"{'-':>8}"
        print(f"{n:>7} {ours_s:11.3f} {n / ours_s:11.0f} {naive_col} {speedup}", flush=True)
    first, last = min(results), max(results)
    ratio = results[last] / results[first]
    print(f"t({last})/t({first}) = {ratio:.1f} (linear would be {last / first:g})")


if __name__ == "__main__":
    main()
