"""Which GGUF file of a Hub repo `tutor pull` takes, and what the Hub says about it.

One metadata request gives the repo's file list, the commit, and each file's size and hash
(the LFS sha256, or the git blob id of a small file kept in git): enough to choose a file and
to verify it once downloaded. huggingface_hub is imported only when the Hub is asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from tutor.errors import PullError
from tutor.models.hub_errors import hub_error
from tutor.models.pulled import DEFAULT_QUANT, check_file_name

_SPLIT_PART = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)
_METADATA_TIMEOUT_S = 15.0
_LISTED_FILES = 8  # file names an error message lists before "and N more"


@dataclass(frozen=True)
class RemoteFile:
    repo: str
    file: str
    revision: str
    commit: str
    size: int
    sha256: str | None  # the hub's LFS sha256; None for a small file kept in git
    git_sha1: str | None  # the git blob id, the only hash the hub gives for a non-LFS file


def choose_gguf(repo: str, files: list[str], wanted: str | None = None) -> str:
    """The file to pull: `wanted` if given, else the repo's one Q4_K_M file, else its only GGUF.

    Raises:
        PullError: no GGUF, `wanted` missing, only split GGUFs, or several files and no way to choose.
    """
    ggufs = sorted(f for f in files if f.lower().endswith(".gguf"))
    if wanted is not None:
        if wanted not in files:
            raise PullError(f"{repo} has no file {wanted}; its GGUF files: {_some(ggufs) or 'none'}")
        if not wanted.lower().endswith(".gguf"):
            raise PullError(f"{wanted} is not a .gguf file; tutor pulls GGUF models only")
        if _SPLIT_PART.search(wanted):
            raise PullError(f"{wanted} is one part of a split GGUF, which tutor pull does not join; choose a single-file GGUF")
        return wanted
    if not ggufs:
        raise PullError(f"{repo} has no .gguf files; tutor pulls GGUF models (their repos usually end in -GGUF)")
    # Split parts need joining and mmproj files are vision add-ons, not models: neither is a default.
    whole = [f for f in ggufs if not _SPLIT_PART.search(f) and not PurePosixPath(f).name.lower().startswith("mmproj")]
    if not whole and any(_SPLIT_PART.search(f) for f in ggufs):
        raise PullError(
            f"{repo} has only split GGUF files ({_some(ggufs)}), which tutor pull does not join yet; choose another repo"
        )
    if not whole:
        raise PullError(f"{repo} has no model GGUF, only vision projectors ({_some(ggufs)})")
    preferred = [f for f in whole if DEFAULT_QUANT in f.lower()]
    if len(preferred) == 1:
        return preferred[0]
    if len(whole) == 1 and not preferred:
        return whole[0]
    choices = preferred or whole
    raise PullError(f"{repo} has several GGUF files ({_some(choices)}); choose one with --file NAME.gguf")


def remote_file(repo: str, wanted: str | None, revision: str, endpoint: str | None) -> RemoteFile:
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint).model_info(
            repo, revision=revision, files_metadata=True, timeout=_METADATA_TIMEOUT_S
        )
    except Exception as exc:
        raise hub_error(exc, repo, revision) from None
    siblings = {s.rfilename: s for s in info.siblings or []}
    name = choose_gguf(repo, list(siblings), wanted)
    check_file_name(name)  # the name comes from the server: it becomes a local path
    sibling = siblings[name]
    size = sibling.lfs.size if sibling.lfs else sibling.size
    if size is None or (sibling.lfs is None and not sibling.blob_id):
        raise PullError(f"the hub lists no size or hash for {name} in {repo}, so it cannot be verified")
    return RemoteFile(
        repo=repo,
        file=name,
        revision=revision,
        commit=info.sha or revision,
        size=int(size),
        sha256=sibling.lfs.sha256.lower() if sibling.lfs else None,
        git_sha1=None if sibling.lfs else sibling.blob_id,
    )


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED_FILES])
    more = len(names) - _LISTED_FILES
    return f"{shown} and {more} more" if more > 0 else shown
