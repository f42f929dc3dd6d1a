"""Stop strings are cut exactly, wherever the chunk boundaries fall."""

from __future__ import annotations

import pytest

from tutor.stops import StopScanner


def run(chunks: list[str], stops: list[str]) -> tuple[list[str], bool]:
    scanner = StopScanner(stops)
    out = [scanner.feed(chunk) for chunk in chunks]
    if not scanner.stopped:
        out.append(scanner.flush())
    return out, scanner.stopped


@pytest.mark.parametrize(
    ("chunks", "stops", "text"),
    [
        (["Hello world"], ["wor"], "Hello "),
        (["Hel", "lo w", "orld"], ["o wo"], "Hell"),
        (["a", "b", "c", "d"], ["bcd"], "a"),
        (["ab", "cab", "d"], ["abd"], "abc"),  # a false start that overlaps the real one
        (["x<", "|e", "nd|>y"], ["<|end|>", "y"], "x"),
        (["one two"], ["two", "one"], ""),  # the earliest stop wins, not the first listed
        (["no stop here"], ["zzz"], "no stop here"),
        (["ends with a part", "ial"], ["partial!"], "ends with a partial"),
    ],
)
def test_text_is_cut_before_the_first_stop_string(chunks, stops, text):
    out, stopped = run(chunks, stops)
    assert "".join(out) == text
    assert stopped == any(s in "".join(chunks) for s in stops)


def test_nothing_that_might_start_a_stop_is_sent_early():
    scanner = StopScanner(["</s>"])
    assert scanner.feed("answer <") == "answer "
    assert scanner.feed("/") == ""
    assert scanner.feed("b>") == "</b>"


def test_nothing_comes_out_after_a_stop():
    scanner = StopScanner(["."])
    assert scanner.feed("Done. More") == "Done"
    assert scanner.feed("text") == ""
    assert scanner.flush() == ""


def test_without_stops_text_passes_straight_through():
    scanner = StopScanner([])
    assert scanner.feed("a<") == "a<"
    assert scanner.flush() == ""
