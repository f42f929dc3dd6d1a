"""`tutor pull`: choosing a GGUF, downloading it resumably, verifying it, and finding it again.

Downloads run `tutor pull` in a fresh process pointed at a loopback hub (`hub_server.py`) with
HF_ENDPOINT: huggingface_hub reads that, and HF_HUB_OFFLINE, once at import. No real network.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import FakeHub, Fault, HubFile, running_hub, write_gguf

from tutor.errors import PullError
from tutor.models.hub_files import choose_gguf
from tutor.models.pull import find_pulled, list_pulled, parse_spec, pull
from tutor.models.pulled import pulled_dir, write_record

REPO = "org/Tiny-GGUF"
Q4 = "tiny-Q4_K_M.gguf"
Q8 = "tiny-Q8_0.gguf"
CHUNK = 10 * 1024 * 1024  # huggingface_hub's http_get writes in chunks of this size


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("ggufs")
    return {
        "q4": write_gguf(folder / "q4.gguf", name="tiny-q4"),
        "q8": write_gguf(folder / "q8.gguf", name="tiny-q8"),
        # Over one 10 MiB chunk, so an interrupted download leaves bytes on disk to resume from.
        "big": write_gguf(folder / "big.gguf", name="big", values=16 * 200_000),
    }


@pytest.fixture
def hub(ggufs):
    fake = FakeHub()
    fake.add(REPO, {Q4: ggufs["q4"], Q8: ggufs["q8"], "README.md": HubFile(b"# tiny\n", lfs=False)})
    with running_hub(fake):
        yield fake


def run_pull(hub: FakeHub, *args: str, tmp_path: Path, offline: bool = False, endpoint: str | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=endpoint or hub.url, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_DISABLE_TELEMETRY="1")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "tutor", "pull", *args], env=env, capture_output=True, text=True, timeout=120
    )


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def pulled(repo: str, file: str) -> Path:
    return pulled_dir() / repo.replace("/", "--") / file


# Choosing the file and reading --model text: no hub needed.


def test_default_pick_is_the_q4_k_m_file_whatever_its_case():
    assert choose_gguf(REPO, ["README.md", "m-Q8_0.gguf", "m-Q4_K_M.gguf", "m-Q2_K.gguf"]) == "m-Q4_K_M.gguf"
    assert choose_gguf(REPO, ["m-q5_k_m.gguf", "m-q4_k_m.gguf"]) == "m-q4_k_m.gguf"
    assert choose_gguf(REPO, ["README.md", "only-Q6_K.gguf"]) == "only-Q6_K.gguf"
    assert choose_gguf(REPO, ["m-Q8_0.gguf", "m-Q4_K_M.gguf"], "m-Q8_0.gguf") == "m-Q8_0.gguf"


@pytest.mark.parametrize(
    ("files", "wanted", "message"),
    [
        (["a-Q8_0.gguf", "a-Q6_K.gguf"], None, "several GGUF files (a-Q6_K.gguf, a-Q8_0.gguf); choose one with --file"),
        (["README.md", "model.safetensors"], None, "has no .gguf files"),
        (["m-Q4_K_M-00001-of-00002.gguf", "m-Q4_K_M-00002-of-00002.gguf"], None, "only split GGUF files"),
        (["m-Q4_K_M.gguf"], "m-Q5_K_M.gguf", "has no file m-Q5_K_M.gguf; its GGUF files: m-Q4_K_M.gguf"),
        (["m-00001-of-00002.gguf"], "m-00001-of-00002.gguf", "split GGUF, which tutor pull does not join"),
        (["README.md"], "README.md", "not a .gguf file"),
    ],
)
def test_no_clear_choice_is_a_one_line_error(files, wanted, message):
    with pytest.raises(PullError) as caught:
        choose_gguf(REPO, files, wanted)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_model_text_names_a_repo_a_file_or_a_suggested_model():
    assert parse_spec("Qwen/Qwen2.5-1.5B-Instruct-GGUF") == ("Qwen/Qwen2.5-1.5B-Instruct-GGUF", None)
    assert parse_spec("org/r:sub/m-Q4_K_M.gguf") == ("org/r", "sub/m-Q4_K_M.gguf")
    assert parse_spec("Qwen2.5-3B") == ("bartowski/Qwen2.5-3B-Instruct-GGUF", "Qwen2.5-3B-Instruct-Q4_K_M.gguf")
    for bad in ("smollm2", "./model.gguf", "a/b/c", "org/r:../../escape.gguf", "org/r:.hidden.gguf", "a--b/c"):
        with pytest.raises(PullError):
            parse_spec(bad)


def test_only_a_recorded_file_of_the_recorded_size_counts_as_pulled():
    target = pulled(REPO, Q4)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + bytes(60))
    assert find_pulled(REPO) is None  # no record: a download that never finished verifying
    write_record(target, repo=REPO, file=Q4, revision="main", commit="c" * 40, size=64, sha256="ab" * 32)
    assert find_pulled(REPO) == target == find_pulled(f"{REPO}:{Q4}") == find_pulled("org/tiny-gguf")
    assert [(m.repo, m.file, m.size) for m in list_pulled()] == [(REPO, Q4, 64)]
    assert find_pulled(f"{REPO}:{Q8}") is None and find_pulled("other/repo") is None
    target.write_bytes(b"GGUF")  # truncated after the pull
    assert find_pulled(REPO) is None and list_pulled() == []


def test_offline_refuses_at_once_without_touching_the_network(hub):
    with pytest.raises(PullError, match="^offline .*HF_HUB_OFFLINE"):
        pull(REPO, endpoint=hub.url)  # conftest sets HF_HUB_OFFLINE=1
    assert hub.requests == []


# Against the loopback hub, in a fresh process.


def test_pull_takes_the_q4_k_m_file_verifies_it_and_records_it(hub, ggufs, tmp_path):
    result = run_pull(hub, REPO, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    target = pulled(REPO, Q4)
    assert target.read_bytes() == ggufs["q4"]
    assert result.stdout.strip() == str(target)
    assert "Pulled org/Tiny-GGUF tiny-Q4_K_M.gguf" in result.stderr
    record = json.loads(target.with_name(Q4 + ".json").read_text())
    assert record["repo"] == REPO and record["file"] == Q4 and record["revision"] == "main"
    assert record["commit"] == hub.repos[REPO].commit
    assert record["size"] == len(ggufs["q4"]) and record["sha256"] == hub.repos[REPO].files[Q4].sha256
    assert record["pulled_at"].endswith("+00:00")
    assert [path for path, _ in hub.downloads()] == [f"/{REPO}/resolve/{hub.repos[REPO].commit}/{Q4}"]
    assert [(method, path) for method, path, _ in hub.requests][0] == ("GET", f"/api/models/{REPO}/revision/main")
    assert len(hub.requests) == 2  # the file list, then the file: nothing else reaches out
    assert find_pulled(REPO) == target

    again = run_pull(hub, REPO, tmp_path=tmp_path)
    assert again.returncode == 0 and "Already pulled" in again.stderr
    assert len(hub.downloads()) == 1


def test_file_option_takes_that_file(hub, ggufs, tmp_path):
    result = run_pull(hub, REPO, "--file", Q8, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert pulled(REPO, Q8).read_bytes() == ggufs["q8"]
    assert not pulled(REPO, Q4).exists()
    assert find_pulled(f"{REPO}:{Q8}") == pulled(REPO, Q8)


def test_a_suggested_name_pulls_its_repo_and_file(hub, ggufs, tmp_path):
    repo, file = parse_spec("qwen2.5-1.5b")
    hub.add(repo, {file: ggufs["q4"], file.replace("Q4_K_M", "Q8_0"): ggufs["q8"]})
    result = run_pull(hub, "qwen2.5-1.5b", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--model qwen2.5-1.5b" in result.stderr
    assert find_pulled("qwen2.5-1.5b") == pulled(repo, file)
    assert pulled(repo, file).read_bytes() == ggufs["q4"]


def test_a_checksum_mismatch_is_refused_and_the_bytes_deleted(hub, ggufs, tmp_path):
    hub.add(REPO, {Q4: HubFile(ggufs["q4"], corrupt=True)})
    line = one_error_line(run_pull(hub, REPO, tmp_path=tmp_path))
    assert "does not match the hub's checksum" in line and "deleted" in line
    folder = pulled(REPO, Q4).parent
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) == []
    assert find_pulled(REPO) is None


def test_a_dropped_connection_resumes_with_a_range_request(hub, ggufs, tmp_path):
    hub.add(REPO, {Q4: ggufs["big"]})
    hub.faults.append(Fault(drop_after=CHUNK + 500_000))
    result = run_pull(hub, REPO, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [rng for _, rng in hub.downloads()] == [None, f"bytes={CHUNK}-"]
    assert pulled(REPO, Q4).read_bytes() == ggufs["big"]


def test_an_interrupted_pull_continues_where_it_stopped(hub, ggufs, tmp_path):
    hub.add(REPO, {Q4: ggufs["big"]})
    hub.faults.extend([Fault(drop_after=CHUNK + 500_000), Fault(status=503)])
    line = one_error_line(run_pull(hub, REPO, tmp_path=tmp_path))
    assert "HTTP 503" in line and "run the same command again to resume" in line
    assert find_pulled(REPO) is None
    (partial,) = pulled(REPO, Q4).parent.glob("*.part")
    assert partial.stat().st_size == CHUNK

    result = run_pull(hub, REPO, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert hub.downloads()[-1][1] == f"bytes={CHUNK}-"
    assert pulled(REPO, Q4).read_bytes() == ggufs["big"]
    assert not partial.exists()


def test_offline_fails_at_once_with_one_line(hub, tmp_path):
    line = one_error_line(run_pull(hub, REPO, tmp_path=tmp_path, offline=True))
    assert line.startswith("error: offline (HF_HUB_OFFLINE is set)")
    assert hub.requests == []


def test_an_unknown_repo_is_one_line(hub, tmp_path):
    line = one_error_line(run_pull(hub, "org/Missing-GGUF", tmp_path=tmp_path))
    assert "no model repo org/Missing-GGUF on the Hugging Face Hub" in line


def test_a_repo_without_gguf_is_one_line(hub, tmp_path):
    hub.add("org/safetensors-only", {"model.safetensors": b"\0" * 16})
    line = one_error_line(run_pull(hub, "org/safetensors-only", tmp_path=tmp_path))
    assert "has no .gguf files" in line
    assert hub.downloads() == []


def test_an_unreachable_hub_is_one_line(hub, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    line = one_error_line(run_pull(hub, REPO, tmp_path=tmp_path, endpoint=closed))
    assert "cannot reach the Hugging Face Hub" in line


def test_an_unwritable_cache_is_one_line(hub, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TUTOR_HOME", str(blocker / "home"))
    line = one_error_line(run_pull(hub, REPO, tmp_path=tmp_path))
    assert "cannot create" in line and "TUTOR_HOME" in line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_line_and_keeps_the_partial(hub, tmp_path):
    sha = hub.repos[REPO].files[Q4].sha256
    folder = pulled(REPO, Q4).parent
    folder.mkdir(parents=True)
    (folder / f".{Q4}.{sha[:16]}.part").symlink_to("/dev/full")  # every write fails with ENOSPC
    line = one_error_line(run_pull(hub, REPO, tmp_path=tmp_path))
    assert "the disk is full" in line and "run the command again to resume" in line
    assert find_pulled(REPO) is None
