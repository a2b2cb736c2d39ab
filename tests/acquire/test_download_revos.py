"""``download revos --archive``: the six user-supplied files are checked against their published
sha256s and assembled into the official layout, which then loads and validates."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from writers.archives import write_zip
from writers.revos import write_revos

from reasonvos.acquire import download as download_module
from reasonvos.acquire.download import download_benchmark
from reasonvos.acquire.sources import get_source
from reasonvos.benchmarks.registry import load_benchmark
from reasonvos.errors import InputError


def _release(tmp_path: Path) -> list[Path]:
    """The release files as a user downloads them: JPEGImages.zip and the plain JSON files."""
    fx = write_revos(tmp_path / "made")
    jpegs = {str(p.relative_to(fx.root)): p.read_bytes() for p in (fx.root / "JPEGImages").rglob("*.jpg")}
    (tmp_path / "dl").mkdir()
    files = [write_zip(tmp_path / "dl" / "JPEGImages.zip", jpegs)]
    for name in ("mask_dict.json", "mask_dict_foreground.json", "meta_expressions_valid_.json"):
        target = tmp_path / "dl" / name
        target.write_bytes((fx.root / name).read_bytes())
        files.append(target)
    return files


def _publish(monkeypatch, files: list[Path]) -> None:
    """Make the registry's published checksums those of these files (the real ones are of the real release)."""
    real = get_source("revos")
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    entries = tuple(dataclasses.replace(e, sha256=digests.get(e.name, e.sha256)) for e in real.variant().files)
    fake = dataclasses.replace(real, variants={"official": dataclasses.replace(real.variant(), files=entries)})
    monkeypatch.setattr(download_module, "get_source", lambda name: fake)


def test_the_supplied_files_are_assembled_into_the_official_layout(tmp_path, monkeypatch):
    files = _release(tmp_path)
    _publish(monkeypatch, files)
    root = tmp_path / "root"
    download_benchmark("revos", root, archives=files, accept_licence=True, quiet=True, out=lambda s: None)
    bench = load_benchmark("revos", root)
    assert len(bench.samples) == 5
    assert bench.videos["UVO/all/-fbscFfkh4M"].image_path("00145").is_file()


def test_a_file_that_does_not_match_its_published_checksum_is_refused(tmp_path, monkeypatch):
    files = _release(tmp_path)
    _publish(monkeypatch, files)
    files[1].write_bytes(files[1].read_bytes() + b" ")  # mask_dict.json changed after publication
    with pytest.raises(InputError, match="sha256"):
        download_benchmark("revos", tmp_path / "root", archives=files, accept_licence=True, quiet=True,
                           out=lambda s: None)
    assert not (tmp_path / "root" / "ReVOS").exists()


def test_the_files_only_a_user_can_download_are_named(tmp_path):
    with pytest.raises(InputError, match="JPEGImages.zip from https://github.com/cilinyan/ReVOS-api"):
        download_benchmark("revos", tmp_path / "root", accept_licence=True, quiet=True, out=lambda s: None)
