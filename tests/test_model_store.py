"""Resolving model specs, the GGUF conversion cache, and `tutor models`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from tutor.cli.models import collect_models, models_table
from tutor.cli.progress import RichLoadProgress
from tutor.models import cache as model_cache, folder, store
from tutor.errors import ModelError


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("torch")
    from tiny_model import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def fake_gguf(tmp_path):
    path = tmp_path / "Tiny-Model.Q4.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    return path


class CopyConverter:
    """Stands in for the GGUF conversion: copies the tiny model and counts its calls."""

    def __init__(self, source, fail: bool = False):
        self.source, self.fail, self.calls = source, fail, 0

    def __call__(self, gguf, out_dir, progress):
        self.calls += 1
        if progress:
            progress("copying", 0, 1)
        for file in self.source.iterdir():
            shutil.copy(file, out_dir / file.name)
        if self.fail:
            raise OSError("disk full")
        if progress:
            progress("done", 1, 1)


def test_gguf_is_converted_once_then_loaded_from_cache(tiny_dir, fake_gguf):
    convert, reports = CopyConverter(tiny_dir), []
    first = store.resolve(str(fake_gguf), convert=convert, progress=lambda *a: reports.append(a))
    second = store.resolve(str(fake_gguf), convert=convert)
    assert convert.calls == 1
    assert first == second
    assert first.kind == "gguf" and first.source == fake_gguf
    assert first.path.parent == store.models_cache()
    assert first.path.name.startswith("Tiny-Model.Q4-")
    assert reports == [("copying", 0, 1), ("done", 1, 1)]
    assert model_cache.verify_cache(first.path, deep=True)
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]  # no temporaries left


@pytest.mark.parametrize(
    "damage",
    ["truncate_weights", "flip_edge_byte", "drop_manifest", "delete_tokenizer", "garble_manifest"],
)
def test_damaged_cache_is_rebuilt(tiny_dir, fake_gguf, damage):
    convert = CopyConverter(tiny_dir)
    path = store.resolve(str(fake_gguf), convert=convert).path
    weights = path / "model.safetensors"
    if damage == "truncate_weights":
        weights.write_bytes(weights.read_bytes()[:-10])
    elif damage == "flip_edge_byte":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "drop_manifest":
        (path / model_cache.MANIFEST).unlink()
    elif damage == "delete_tokenizer":
        (path / "tokenizer.json").unlink()
    else:
        (path / model_cache.MANIFEST).write_text("{not json")
    assert not model_cache.verify_cache(path)
    again = store.resolve(str(fake_gguf), convert=convert)
    assert convert.calls == 2
    assert again.path == path and model_cache.verify_cache(path, deep=True)


def test_deep_verify_catches_damage_in_the_middle(tiny_dir, fake_gguf):
    path = store.resolve(str(fake_gguf), convert=CopyConverter(tiny_dir)).path
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_cache.verify_cache(path)  # the cheap check on every load: sizes and edges
    assert not model_cache.verify_cache(path, deep=True)


def test_failed_conversion_leaves_nothing_behind(tiny_dir, fake_gguf):
    with pytest.raises(ModelError, match="disk full"):
        store.resolve(str(fake_gguf), convert=CopyConverter(tiny_dir, fail=True))
    assert list(store.models_cache().iterdir()) == []


def test_partial_directory_without_manifest_is_not_used(tiny_dir, fake_gguf):
    target = store.models_cache() / f"Tiny-Model.Q4-{model_cache.gguf_identity(fake_gguf)}"
    target.mkdir(parents=True)
    shutil.copy(tiny_dir / "config.json", target)  # a conversion that died part-way
    convert = CopyConverter(tiny_dir)
    assert store.resolve(str(fake_gguf), convert=convert).path == target
    assert convert.calls == 1


def test_new_converter_version_changes_the_cache_key(fake_gguf, monkeypatch):
    before = model_cache.gguf_identity(fake_gguf)
    monkeypatch.setattr(model_cache, "CONVERTER_VERSION", model_cache.CONVERTER_VERSION + 1)
    assert model_cache.gguf_identity(fake_gguf) != before


def test_model_directory_resolves_to_itself(tiny_dir):
    resolved = store.resolve(str(tiny_dir))
    assert (resolved.kind, resolved.path, resolved.name) == ("directory", tiny_dir, "model")


def test_trained_model_by_name(tiny_dir):
    target = store.trained_models_dir() / "my-gpt"
    shutil.copytree(tiny_dir, target)
    resolved = store.resolve("my-gpt")
    assert (resolved.kind, resolved.path) == ("trained", target)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing", "not found"),
        (lambda p: p, "no config.json"),
        (lambda p: (p / "config.json").write_text("{}") and p, "no \\*.safetensors"),
        (lambda p: (p / "w.gguf").write_bytes(b"nope") and p / "w.gguf", "not a GGUF file"),
    ],
)
def test_bad_specs(tmp_path, make, message):
    target = make(tmp_path)
    with pytest.raises(ModelError, match=message):
        store.resolve(str(target))


def test_garbled_safetensors_header(tiny_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ModelError, match="safetensors"):
        folder.check_model_dir(broken)


def test_count_parameters_reads_headers(tiny_dir):
    config = json.loads((tiny_dir / "config.json").read_text())
    count = folder.count_parameters(tiny_dir)
    assert count and count > config["vocab_size"] * config["hidden_size"]


def _render(rows) -> str:
    console = Console(width=200, color_system=None, record=True)
    console.print(models_table(rows))
    return console.export_text()


def test_models_table_lists_every_kind(tiny_dir, fake_gguf):
    store.resolve(str(fake_gguf), convert=CopyConverter(tiny_dir))  # a conversion cache: not a --model name
    shutil.copytree(tiny_dir, store.trained_models_dir() / "my-gpt")
    (store.trained_models_dir() / "half-saved").mkdir()
    rows = collect_models(openai_model="gpt-4o-mini", openai_key=False)
    text = _render(rows)
    for column in ("name", "kind", "parameters", "size on disk", "path", "ready"):
        assert column in text
    assert "qwen-1.5b (default)" in text and "Qwen2.5-Coder-1.5B-Instruct Q4_K_M" in text
    assert "qwen-0.5b" in text and "smollm2" in text
    assert "Tiny-Model.Q4-" not in text
    assert "my-gpt" in text and "trained by tutor" in text
    assert any(r.name == "half-saved" and "no config.json" in r.ready for r in rows)
    assert "gpt-4o-mini" in text and "set OPENAI_API_KEY" in text


def test_every_ready_local_name_listed_works_in_model(tiny_dir):
    from tutor.models.resolve import resolve_local

    shutil.copytree(tiny_dir, store.trained_models_dir() / "my-gpt")
    rows = collect_models()
    local = [r for r in rows if r.kind != "OpenAI API" and r.ready.startswith("yes")]
    assert any(r.name == "my-gpt" for r in local)
    for row in local:
        name = row.name.removesuffix(" (default)")
        if "Qwen" in row.kind:
            continue  # resolving would assemble 0.5-1 GB into this test's home
        assert resolve_local(name).name in (name, Path(name).name)


def test_rich_progress_shows_stages_and_closes():
    console = Console(width=100, color_system=None, record=True, force_terminal=True)
    with RichLoadProgress(console=console) as progress:
        progress("dequantizing weights", 2, 4)
        progress("done", 4, 4)
    assert progress._progress is None
    assert "dequantizing weights" in console.export_text()


def test_an_unfinished_training_run_is_refused(tiny_dir, tmp_path):
    from tutor.gpt.checkpoint import INCOMPLETE

    run = tmp_path / "run"
    shutil.copytree(tiny_dir, run)
    folder.check_model_dir(run)
    (run / INCOMPLETE).write_text("")
    with pytest.raises(ModelError, match="unfinished `tutor train` run"):
        folder.check_model_dir(run)


def test_a_model_folder_named_like_markup_is_listed_as_is(tiny_dir):
    shutil.copytree(tiny_dir, store.trained_models_dir() / "[bold]odd[red]")
    assert "[bold]odd[red]" in _render(collect_models())
