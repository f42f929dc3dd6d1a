"""Score the answers of an earlier run again, without the model (`teach_eval.py --rescore`).

A `--json` file holds every answer and revision, so the loose and strict concept patterns (and
any later change to the metrics) can be compared on exactly the same text. Files written
before the prompt was stored lack it: their citations are then not checked against the
passages sent, and `copied` is unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from tutor.errors import UsageError
from tutor.evaluate.metrics import measure
from tutor.evaluate.runner import FEEDBACK_KINDS, FeedbackKind, Revision, TopicResult
from tutor.evaluate.sets import topic_named


def load_run(path: Path) -> dict:
    """A `--json` results file; a clear one-line error when it is missing or not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a teach_eval --json file: {exc}") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not all(
        isinstance(r, dict) and isinstance(r.get("topic"), str) and isinstance(r.get("text"), str)
        and isinstance(r.get("revisions", {}), dict)
        for r in results
    ):
        raise UsageError(f"{path} is not a teach_eval --json file: no list of results with topic and text")
    return data


def rescore(data: dict, kinds: Sequence[FeedbackKind] = FEEDBACK_KINDS) -> list[TopicResult]:
    """Every answer of `data` (a loaded `--json` file) measured again with today's metrics."""
    by_key = {k.key: k for k in kinds}
    results = []
    for item in data["results"]:
        topic = topic_named(item["topic"])
        source = item.get("prompt") if isinstance(item.get("prompt"), str) else None
        result = TopicResult(topic, item["text"], measure(item["text"], topic, source=source), source=source)
        for key, revision in item.get("revisions", {}).items():
            kind = by_key.get(key)
            text = revision.get("text") if isinstance(revision, dict) else None
            if kind is None or not isinstance(text, str):
                raise UsageError(f"result {item['topic']!r} has a revision {key!r} this eval does not know")
            after = measure(text, topic, source=source)
            result.revisions[key] = Revision(key, text, after, kind.passed(result.metrics, after))
        results.append(result)
    return results


def kinds_in(results: Sequence[TopicResult], kinds: Sequence[FeedbackKind] = FEEDBACK_KINDS) -> list[FeedbackKind]:
    return [k for k in kinds if any(k.key in r.revisions for r in results)]
