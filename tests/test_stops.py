"""Stop strings are cut exactly, wherever the chunk boundaries fall."""

from __future__ import annotations

import pytest

from tutor import transcript
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


@pytest.mark.parametrize(
    ("chunks", "text"),
    [
        (["Recursion is a function", " calling itself.", "\n### User:\nmore"], "Recursion is a function calling itself."),
        (["Done.  ", "\n", "\n##", "# User:"], "Done."),  # the whitespace waits for what follows it
        (["Done. \n\n### User:"], "Done."),
        (["Line one\n", "Line two"], "Line one\nLine two"),  # whitespace before more text is kept
        (["Ends without a header  \n"], "Ends without a header  \n"),  # flushed as it came
    ],
)
def test_the_transcript_scanner_drops_the_whitespace_before_the_header(chunks, text):
    scanner = transcript.stop_scanner()
    out = [scanner.feed(chunk) for chunk in chunks]
    out.append(scanner.flush())
    assert "".join(out) == text
    assert scanner.stopped == (transcript.STOP_STRING in "".join(chunks))


def test_trailing_whitespace_is_held_until_the_next_chunk_decides():
    scanner = StopScanner(["\n### "], trim_before_stop=True)
    assert scanner.feed("Done. ") == "Done."
    assert scanner.feed("Next") == " Next"
