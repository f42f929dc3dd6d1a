"""Asking a backend for one JSON value that matches a schema, and checking what comes back.

OpenAI-compatible servers and llama.cpp constrain the reply to the schema (`json_schema` in
`GenerationOptions`); the transformers backend does not, so every reply is parsed and validated
here whatever the backend. A malformed reply is asked for once more, with the problem named;
a second one raises `MalformedReply`, and the learner never sees the JSON.

The validator covers the subset of JSON Schema our schemas use: `type` (object, array, string,
integer, number, boolean), `properties`, `required`, `additionalProperties: false`, `enum`,
`items`, `minItems`, `maxItems`, `minLength`, `maxLength`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Sequence

from tutor.backends.base import Backend

from tutor.errors import BackendError
from tutor.options import GenerationOptions, Message

TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


class MalformedReply(BackendError):
    """The model's reply was not the JSON we asked for, twice in a row."""


def schema_errors(value: Any, schema: dict, where: str = "reply") -> list[str]:
    """Everything wrong with `value` under `schema`, as short phrases (empty when it is valid)."""
    wanted = schema.get("type")
    if wanted is not None:
        kinds = TYPES[wanted]
        if not isinstance(value, kinds) or (wanted in ("integer", "number") and isinstance(value, bool)):
            return [f"{where} should be {'an' if wanted[0] in 'aeiou' else 'a'} {wanted}"]
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where} should be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        if len(value.strip()) < schema.get("minLength", 0):
            problems.append(f"{where} is empty")
        if len(value) > schema.get("maxLength", len(value)):
            problems.append(f"{where} is longer than {schema['maxLength']} characters")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where} needs at least {schema['minItems']} items")
        if len(value) > schema.get("maxItems", len(value)):
            problems.append(f"{where} has more than {schema['maxItems']} items")
        for i, item in enumerate(value):
            problems += schema_errors(item, schema.get("items", {}), f"{where}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where} lacks {name!r}")
        for name, item in value.items():
            if name in properties:
                problems += schema_errors(item, properties[name], f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where} has an unexpected field {name!r}")
    return problems


def extract_json(text: str) -> Any:
    """The JSON value in a reply. Small models wrap it in a code fence or a sentence, so the
    outermost `{...}` is tried when the whole text is not JSON.

    Raises:
        ValueError: no JSON value could be read.
    """
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped[stripped.find("\n") + 1 :] if "\n" in stripped else stripped
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    start, end = stripped.find("{"), stripped.rfind("}")
    if start == -1 or end <= start:
        raise ValueError("the reply holds no JSON object")
    return json.loads(stripped[start : end + 1])


def parse_reply(text: str, schema: dict, check: Callable[[Any], list[str]] | None = None) -> Any:
    """The validated value, or ValueError naming what is wrong (at most three problems)."""
    try:
        value = extract_json(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({str(exc).split(':')[0]})") from None
    problems = schema_errors(value, schema)
    if not problems and check is not None:
        problems = check(value)
    if problems:
        raise ValueError("; ".join(problems[:3]))
    return value


def ask_json(
    backend: Backend,
    messages: Sequence[Message],
    schema: dict,
    options: GenerationOptions,
    *,
    what: str,
    check: Callable[[Any], list[str]] | None = None,
) -> Any:
    """One JSON value from the backend, asked for at most twice.

    Args:
        what: names the request in the error, e.g. "grading reply".
        check: extra rules beyond the schema; returns problems like `schema_errors`.

    Raises:
        MalformedReply: both replies were malformed.
        BackendError: the backend failed (not retried here).
    """
    constrained = dataclasses.replace(options, json_schema=schema)
    asked = list(messages)
    problem = ""
    for attempt in range(2):
        text = "".join(backend.stream(asked, constrained))
        try:
            return parse_reply(text, schema, check)
        except ValueError as exc:
            problem = str(exc)
        # The retry shows the model its reply and what was wrong with it.
        asked = [
            *messages,
            {"role": "assistant", "content": text[:4000]},
            {"role": "user", "content": f"That reply was malformed: {problem}. Answer again with only the JSON object."},
        ]
    raise MalformedReply(
        f"the {backend.name}:{backend.model} {what} was malformed twice ({problem}); try again or use another model"
    )
