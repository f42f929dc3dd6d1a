"""Prompts are Markdown files with `$variables`, so they can be edited without touching code.

The shipped prompts live in `tutor/prompts/` inside the wheel (the top-level `prompts/` folder
in a checkout). `--prompts DIR` or `TUTOR_PROMPTS_DIR` points at another folder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from string import Template

from tutor.errors import PromptError

PROMPT_NAMES = ("system", "explain", "revise")
HINTS = "feedback_hints"  # optional file: `words, words: instruction` per line, for `$hints`

# Prompt variants for models too small for the professor prompt, chosen by measurement
# (BENCHMARKS.md, "Teaching quality"): the model name -> a subfolder of the shipped prompts.
SMALL_MODEL_VARIANTS = {"smollm2": "small"}


def shipped_prompts_dir() -> Path:
    """The prompts installed with the package, or the checkout's `prompts/` in development."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "prompts", package_dir.parent / "prompts"):
        if (candidate / "system.md").is_file():
            return candidate
    raise PromptError(f"the shipped prompts are missing from {package_dir}; reinstall tutor")


def select_prompts_dir(explicit: Path | None, *, answering_backend: str, local_model: str) -> Path | None:
    """The prompts folder for a lesson: the learner's own, else a variant for a small model.

    None means the shipped default prompts.
    """
    if explicit is not None:
        return explicit
    variant = SMALL_MODEL_VARIANTS.get(local_model) if answering_backend == "local" else None
    return shipped_prompts_dir() / variant if variant else None


class PromptSet:
    """A folder of prompt templates.

    Args:
        directory: folder holding `system.md`, `explain.md` and `revise.md`; the shipped
            prompts when None.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else shipped_prompts_dir()
        if not self.directory.is_dir():
            raise PromptError(f"prompts folder {self.directory} does not exist")
        self._cache: dict[str, str] = {}

    def text(self, name: str) -> str:
        """The raw template text of `name.md`."""
        if name not in self._cache:
            path = self.directory / f"{name}.md"
            try:
                self._cache[name] = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise PromptError(
                    f"prompt file {path} is missing (a prompts folder needs "
                    f"{', '.join(n + '.md' for n in PROMPT_NAMES)})"
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise PromptError(f"cannot read prompt file {path}: {exc}") from None
        return self._cache[name]

    def render(self, name: str, **variables: str) -> str:
        """Fill `name.md` with `variables`. A `$name` nobody provides is an error, not a blank."""
        template = Template(self.text(name))
        try:
            return template.substitute(variables).strip()
        except KeyError as exc:
            given = ", ".join(f"${v}" for v in sorted(variables)) or "none"
            raise PromptError(
                f"{self.directory / (name + '.md')} uses ${exc.args[0]}, which is not provided "
                f"(available: {given}; write $$ for a literal dollar sign)"
            ) from None
        except ValueError as exc:
            raise PromptError(f"{self.directory / (name + '.md')}: bad placeholder ({exc})") from None

    def hints(self, feedback: str) -> str:
        """The instructions of `feedback_hints.md` whose words occur in `feedback`, one per line.

        A small model told "add code; make it simpler; keep it short" at once copies the list
        into its answer; told only what this feedback asks, it does it (BENCHMARKS.md,
        "Teaching quality"). Empty when the folder has no hints file or nothing matches.
        """
        if not (self.directory / f"{HINTS}.md").is_file():
            return ""
        found = []
        for line in self.text(HINTS).splitlines():
            words, sep, instruction = line.partition(":")
            if not sep or line.startswith("#"):
                continue
            pattern = "|".join(re.escape(w.strip()) for w in words.split(",") if w.strip())
            if pattern and re.search(rf"(?<!\w)({pattern})(?!\w)", feedback, re.IGNORECASE):
                found.append(instruction.strip())
        return "\n".join(found)

    def fingerprint(self) -> str:
        """A short hash of all prompt texts, so stored lessons can say which prompts made them."""
        digest = hashlib.sha256()
        for name in PROMPT_NAMES:
            digest.update(self.text(name).encode())
        if (self.directory / f"{HINTS}.md").is_file():
            digest.update(self.text(HINTS).encode())
        return digest.hexdigest()[:12]
