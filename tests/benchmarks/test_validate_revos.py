"""``validate revos``: the release checksums, the expression and mask-dict rules, the foreground
dict, frames under either layout, unsorted frames and the known TAO misalignment."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
from writers.revos import RevosExpression, RevosVideo, write_revos

from reasonvos.acquire import sources
from reasonvos.validation import validate


def _json_edit(path, edit):
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_a_clean_copy_has_no_errors_in_either_layout(tmp_path):
    for repack in (False, True):
        fx = write_revos(tmp_path / str(repack), repack=repack)
        report = validate("revos", fx.root)
        assert report.ok, report.format()
        assert report.facts["valid"]["expressions"] == 5


def test_checksums_tell_the_published_files_from_the_superseded_and_the_unknown(tmp_path, monkeypatch):
    fx = write_revos(tmp_path)
    meta = fx.root / "meta_expressions_valid_.json"
    digest = hashlib.sha256(meta.read_bytes()).hexdigest()
    real = sources.get_source("revos")
    # pretend this file is the pre-2024-07-13 one, and the mask dict is the published one
    mask_digest = hashlib.sha256((fx.root / "mask_dict.json").read_bytes()).hexdigest()
    files = tuple(dataclasses.replace(f, sha256=mask_digest) if f.name == "mask_dict.json" else f
                  for f in real.variant().files)
    fake = dataclasses.replace(
        real, variants={"official": dataclasses.replace(real.variant(), files=files)},
        superseded=({"sha256_prefixes": {"meta_expressions_valid_.json": digest[:8]}},))
    monkeypatch.setattr(sources, "get_source", lambda name: fake)
    report = validate("revos", fx.root)
    assert [p.where for p in report.of_kind("superseded")] == [str(meta)]
    assert [p.where for p in report.of_kind("checksum")] == [str(fx.root / "mask_dict_foreground.json")]


def test_expression_rules_are_errors_and_the_other_expressions_are_still_read(tmp_path):
    fx = write_revos(tmp_path)

    def edit(meta):
        exps = meta["videos"]["UVO/all/-fbscFfkh4M"]["expressions"]
        exps["0"]["type_id"] = 5
        exps["1"]["obj_id"] = [0]

    _json_edit(fx.root / "meta_expressions_valid_.json", edit)
    report = validate("revos", fx.root)
    messages = " | ".join(p.message for p in report.errors)
    assert "must be 0, 1 or 2, found 5" in messages and "1 obj_id but 2 anno_id" in messages
    assert report.facts["valid"]["expressions"] == 3


def test_mask_dict_rules_missing_anno_wrong_length_wrong_size(tmp_path):
    fx = write_revos(tmp_path)

    def edit(masks):
        del masks["77"]  # referred to by two expressions
        masks["3003020"] = masks["3003020"][:2]  # one entry short
        masks["3003019"][0]["size"] = [5, 5]  # not the video's 12x16

    _json_edit(fx.root / "mask_dict.json", edit)
    text = validate("revos", fx.root).format(examples=None)
    assert "anno_id 77 (video MeViS/train/0ab4afe7fb46) is not in the mask dict" in text
    assert "anno_id 3003020 has 2 entries, but video UVO/all/-fbscFfkh4M lists 3 frames" in text
    assert "anno_id 3003019, frame 00145: RLE size [5, 5], the video is 12x16" in text


def test_foreground_dict_rules(tmp_path):
    fx = write_revos(tmp_path)

    def edit(fg):
        del fg["MeViS/train/0ab4afe7fb46"]
        fg["UVO/all/-fbscFfkh4M"]["foreground_ratio"].pop()

    _json_edit(fx.root / "mask_dict_foreground.json", edit)
    report = validate("revos", fx.root)
    lines = [p.message for p in report.of_kind("foreground")]
    assert any("'MeViS/train/0ab4afe7fb46' has no foreground entry" in m for m in lines)
    assert any("foreground_ratio has 2 entries, the video lists 3 frames" in m for m in lines)


def test_missing_frames_unsorted_frames_and_tao_videos(tmp_path):
    tao = RevosVideo("TAO/val/abc", ["00030", "00000"], (8, 8))  # unsorted, as some lists are
    m = np.zeros((8, 8), bool)
    m[2:5, 2:5] = True
    tao.objects = {9: [m, m]}
    tao.expressions = [RevosExpression("0", "the cup", [9], 0)]
    fx = write_revos(tmp_path, videos=[tao], jpeg=False)
    report = validate("revos", fx.root)
    assert report.of_kind("missing-frame")[0].message.startswith("video 'TAO/val/abc' has no frame folder")
    assert "not sorted" in report.of_kind("frame-order")[0].message
    assert "misaligned" in report.of_kind("known-issue")[0].message
