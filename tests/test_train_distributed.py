"""`tutor train` under torchrun on CPU (gloo): parity with one process, stops, resume, wrong setups.

Parity: two processes with one micro-batch each against one process with `--grad-accum 2`,
same seed, tiny preset, 50 steps. Both see exactly the same global batches (every process
draws the whole global batch and keeps its shard), so the only difference is the order of
floating-point sums (DDP's all-reduce against accumulation). Measured: at most 2.4e-7 apart
over 50 steps; the tolerance below is 1e-4 per step.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_train import invoke, write_corpus

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("this torch has no gloo backend", allow_module_level=True)

from tutor.gpt import checkpoint as ckpt  # noqa: E402
from tutor.gpt.resume import resume_grad_accum  # noqa: E402

LOSS_TOLERANCE = 1e-4  # per-step train loss, two processes against one
LOGIT_TOLERANCE = 1e-4  # the saved models' outputs on the same input
WORKER = Path(__file__).with_name("ddp_stop_worker.py")


def torchrun(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def train_losses(out: Path) -> dict[int, float]:
    with (out / "metrics.csv").open() as handle:
        return {int(r["step"]): float(r["train_loss"]) for r in csv.DictReader(handle) if not r["val_loss"]}


def logits(out: Path, x):
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        return AutoModelForCausalLM.from_pretrained(out).eval()(x).logits


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("ddp") / "corpus.txt")


@pytest.fixture(scope="module")
def one_process(corpus, tmp_path_factory) -> Path:
    """The reference: one process, two micro-batches of 8 per step (global batch 16)."""
    out = tmp_path_factory.mktemp("one") / "model"
    result = invoke("train", corpus, "--out", out, "--preset", "tiny", "--steps", "50", "--grad-accum", "2",
                    "--log-every", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "global batch 16 = 8 x 2 grad-accum x 1 process" in result.output
    return out


def test_two_processes_match_one_with_the_same_global_batch(corpus, one_process, tmp_path):
    out = tmp_path / "two"
    run = torchrun("-m", "tutor", "train", corpus, "--out", out, "--preset", "tiny", "--steps", "50", "--log-every", "1")
    assert run.returncode == 0, run.stderr
    # Rank 0 alone speaks: the start line and the summary appear once.
    assert run.stderr.count("global batch 16 = 8 x 1 grad-accum x 2 processes") == 1
    assert run.stdout.count("done: 50 steps") == 1 and "Traceback" not in run.stderr

    one, two = train_losses(one_process), train_losses(out)
    assert sorted(two) == list(range(1, 51)) == sorted(one)  # one row per step: one writer
    worst = max(abs(one[s] - two[s]) for s in one)
    assert worst < LOSS_TOLERANCE, f"loss curves differ by {worst}"
    assert one[50] < one[1] - 0.5  # and they did learn

    assert (one_process / "config.json").read_text() == (out / "config.json").read_text()
    assert (one_process / "tokenizer.json").read_text() == (out / "tokenizer.json").read_text()
    x = torch.randint(0, 30, (2, 32), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(logits(one_process, x), logits(out, x), atol=LOGIT_TOLERANCE)
    summary = (out / "training.json").read_text()
    assert '"processes": 2' in summary and '"global_batch": 16' in summary


def test_a_stop_on_one_rank_stops_all_and_any_world_size_resumes_exactly(corpus, one_process, tmp_path):
    out = tmp_path / "stopped"
    run = torchrun(WORKER, corpus, out, 1, 20)  # rank 1 alone asks to stop at step 20
    assert run.returncode == 0, run.stderr
    assert "rank 0: interrupted=True step=20" in run.stdout and "rank 1: interrupted=True step=20" in run.stdout
    state = ckpt.load_checkpoint(out)
    assert state["step"] == 20 and state["world_size"] == 2 and state["config"]["grad_accum"] == 1

    # One process continues it: --grad-accum 2 is derived, so the global batch stays 16.
    resumed = invoke("train", corpus, "--out", out, "--resume", "--steps", "50")
    assert resumed.exit_code == 0, resumed.output
    assert "global batch 16 = 8 x 2 grad-accum x 1 process · resuming at step 20" in resumed.output
    one, both = train_losses(one_process), train_losses(out)
    assert max(abs(one[s] - both[s]) for s in range(1, 51)) < LOSS_TOLERANCE
    x = torch.randint(0, 30, (2, 32), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(logits(one_process, x), logits(out, x), atol=LOGIT_TOLERANCE)


def test_ctrl_c_on_one_rank_saves_one_checkpoint_and_ends_every_rank(corpus, tmp_path):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "long"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "tutor", "train", str(corpus), "--out", str(out), "--preset", "tiny", "--steps", "1000000"]  # fmt: skip
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # The step-0 checkpoint exists once rank 0 is inside the loop, and rank 1, which waits
        # for it at the first all-reduce, has its signal handlers in place by then.
        deadline = time.monotonic() + 240
        while not (out / ckpt.CHECKPOINT).is_file():
            assert launcher.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        workers = {int(p.environ()["RANK"]): p for p in psutil.Process(launcher.pid).children(recursive=True)
                   if "RANK" in p.environ()}  # fmt: skip
        workers[1].send_signal(signal.SIGINT)
        stdout, stderr = launcher.communicate(timeout=240)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, stderr
    assert stderr.count("stopped at step") == 1 and "checkpoint saved in" in stderr
    assert "resume with: torchrun --standalone --nproc_per_node=2 -m tutor train" in stderr
    assert "Traceback" not in stderr
    assert ckpt.load_checkpoint(out)["step"] > 0 and (out / ckpt.INCOMPLETE).exists()


def test_resume_keeps_the_global_batch_or_says_which_world_sizes_fit():
    assert resume_grad_accum(2, 1, None) == 2
    assert resume_grad_accum(2, 2, None) == 1
    assert resume_grad_accum(4, 2, 2) == 2
    with pytest.raises(Exception, match="mismatched world size.*3 processes cannot split.*resume with 1 or 2 processes"):
        resume_grad_accum(2, 3, None)
    with pytest.raises(Exception, match="--grad-accum 1 with 1 process\\(es\\) changes .*pass --grad-accum 2"):
        resume_grad_accum(2, 1, 1)


def test_wrong_setups_get_one_line_each(corpus, one_process, tmp_path):
    """Mismatched world size on resume, no rendezvous, CUDA without a GPU: one line, no traceback."""
    ranks = {"RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": None, "MASTER_PORT": None}
    cases = [
        (["--out", one_process, "--resume", "--steps", "60"], dict(ranks, WORLD_SIZE="3"),
         "error: mismatched world size: the checkpoint's global batch is 2 micro-batches per step"),
        (["--out", tmp_path / "a", "--preset", "tiny"], dict(ranks, WORLD_SIZE="2"),
         "error: no rendezvous: WORLD_SIZE is 2 but MASTER_ADDR and MASTER_PORT are not set; start it with `torchrun"),
    ]  # fmt: skip
    if not torch.cuda.is_available():
        cases.append((["--out", tmp_path / "b", "--preset", "tiny", "--device", "cuda"], {},
                      "error: --device cuda: no CUDA GPU is available to PyTorch; use --device cpu"))  # fmt: skip
    for args, env, message in cases:
        from typer.testing import CliRunner

        from test_train import make_app

        result = CliRunner().invoke(make_app(), ["train", str(corpus), *map(str, args)], env=env)
        assert result.exit_code != 0
        assert result.output.startswith(message) and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_launcher_environment_names_the_rank():
    from tutor.errors import TrainingError
    from tutor.gpt.distributed import Cluster, cluster_from_env

    assert cluster_from_env({}) == Cluster(0, 1, 0) and not cluster_from_env({}).distributed
    worker = cluster_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (worker.rank, worker.world_size, worker.local_rank, worker.is_main, worker.speaks_here) == (3, 4, 1, False, False)
    for env in ({"WORLD_SIZE": "2", "RANK": "2"}, {"WORLD_SIZE": "two", "RANK": "0"}, {"WORLD_SIZE": "2"}):
        with pytest.raises(TrainingError, match="torchrun --standalone --nproc_per_node=N -m tutor train"):
            cluster_from_env(env)
