"""One-line `PullError`s for what goes wrong while pulling: offline, the Hub's answers, the disk.

huggingface_hub raises a family of HTTP exceptions (several of them also OSErrors) and httpx2
raises transport errors; the learner needs one line that says what to do next.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from tutor.errors import PullError

_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's spelling of a true environment variable
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def refuse_offline() -> None:
    # huggingface_hub reads the same variables (once, at import); checking first fails at once.
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    if value.upper() in _TRUE:
        raise PullError(
            "offline (HF_HUB_OFFLINE is set): tutor pull needs the internet; unset it, or use a model you have (tutor models)"
        )


def hub_error(exc: Exception, repo: str, revision: str, *, resumable: bool = False) -> Exception:
    """One line for a failure to talk to the hub; other exceptions come back unchanged."""
    import httpx2
    from huggingface_hub import errors

    again = "; run the same command again to resume" if resumable else ""
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return PullError("offline (HF_HUB_OFFLINE is set): tutor pull needs the internet; unset it")
    if isinstance(exc, errors.GatedRepoError):
        return PullError(f"{repo} is gated: accept its terms on huggingface.co, then log in with `hf auth login`")
    if isinstance(exc, errors.RepositoryNotFoundError):
        return PullError(f"no model repo {repo} on the Hugging Face Hub (check the name; private repos need `hf auth login`)")
    if isinstance(exc, errors.RevisionNotFoundError):
        return PullError(f"{repo} has no revision {revision}")
    if isinstance(exc, errors.RemoteEntryNotFoundError):
        return PullError(f"the hub no longer has this file in {repo}{again}")
    if isinstance(exc, errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return PullError(f"the Hugging Face Hub answered HTTP {status} for {repo}; try again later{again}")
    if isinstance(exc, (httpx2.HTTPError, ConnectionError)):
        return PullError(f"cannot reach the Hugging Face Hub ({type(exc).__name__}): check your connection{again}")
    return exc


def disk_error(exc: OSError, path: Path) -> PullError:
    if exc.errno is not None and exc.errno in _DISK_FULL:
        return PullError(f"the disk is full while writing {path}; free some space and run the command again to resume")
    return PullError(f"cannot write {path}: {exc.strerror or exc}; set TUTOR_HOME to a writable folder")
