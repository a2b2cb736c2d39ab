"""The ReasonVOS loader on the current schema: samples, masks, prediction layout and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from writers.reasonvos import RVExpression, default_videos, write_reasonvos

import reasonvos
from reasonvos.benchmarks import reasonvos as rv_loader
from reasonvos.benchmarks.reasonvos import parse_mask_folder_key
from reasonvos.errors import InputError, MaskError, MetadataError, MissingFileError


def _expected(videos):
    return [(v.name, e) for v in videos for e in v.expressions]


def test_counts_texts_frames_and_kinds(tmp_path):
    videos = default_videos()
    root = write_reasonvos(tmp_path, videos)
    bench = reasonvos.load_benchmark("reasonvos", root)  # the ReasonVOS/ folder itself
    assert bench.has_ground_truth and bench.version == "current"
    assert len(bench.videos) == 3 and len(bench.samples) == len(_expected(videos)) == 6
    for s, (vid, e) in zip(bench.samples, _expected(videos), strict=True):
        assert (s.video_id, s.exp_id, s.text, s.obj_ids) == (vid, e.exp_id, e.text, (e.obj_id,))
        assert s.kind == ("long" if e.is_sent else "short")
    for v in videos:
        assert list(bench.videos[v.name].frames) == v.frames
        assert bench.videos[v.name].image_path(v.frames[0]).is_file()
    assert {s.source for s in bench.samples} == {"mevis", "vipseg", "burst"}


def test_gt_masks_are_the_object_sequences(tmp_path):
    videos = default_videos()
    bench = reasonvos.load_benchmark("reasonvos", write_reasonvos(tmp_path, videos))
    by_name = {v.name: v for v in videos}
    for s in bench.samples:
        v = by_name[s.video_id]
        got = list(bench.gt_masks(s))
        assert [f for f, _ in got] == sorted(v.frames)
        for (frame, mask), expected in zip(got, v.objects[s.obj_ids[0]], strict=True):
            assert mask.dtype == bool and (mask == expected).all(), frame
    assert bench.gt_size(bench.samples[0]) == (24, 32)


def test_prediction_paths_follow_the_official_layout(tmp_path):
    bench = reasonvos.load_benchmark("reasonvos", write_reasonvos(tmp_path))
    s = bench.samples[1]
    assert str(bench.prediction_path(s, "00002")) == "mevis_a1b2c3_d4_1/1/00002.png"
    burst = [x for x in bench.samples if x.source == "burst"][0]
    assert str(bench.prediction_dir(burst)) == "burst_YFCC100M_v_f69ebe5b731d3e87c1a3992ee39c3b7e_3/0"


def test_underscores_in_video_names_are_parsed_with_the_known_source(tmp_path):
    assert parse_mask_folder_key("mevis_a1b2c3_d4_1", ["mevis", "vipseg"]) == ("mevis", "a1b2c3_d4", "1")
    assert parse_mask_folder_key(
        "vipseg_127_-hIVCYO4C90_000006101", ["vipseg"], ["000006101"],
    ) == ("vipseg", "127_-hIVCYO4C90", "000006101")
    with pytest.raises(ValueError):
        parse_mask_folder_key("mose_x_1", ["burst"])


def test_a_repeated_exp_id_keeps_both_samples_apart(tmp_path):
    videos = default_videos()
    videos[0].expressions.append(RVExpression("1", "1", "another text for the same exp_id", True))
    bench = reasonvos.load_benchmark("reasonvos", write_reasonvos(tmp_path, videos))
    same = [s for s in bench.samples if s.video_id == "a1b2c3_d4" and s.exp_id == "1"]
    assert len(same) == 2 and len({s.key for s in same}) == 2
    assert len({str(bench.prediction_dir(s)) for s in same}) == 2


def test_a_missing_mask_folder_is_named(tmp_path):
    root = write_reasonvos(tmp_path)
    shutil.rmtree(root / "Annotations" / "vipseg_127_-hIVCYO4C90_000006101")
    with pytest.raises(MissingFileError, match="vipseg_127_-hIVCYO4C90_000006101"):
        reasonvos.load_benchmark("reasonvos", root)


def test_an_undecodable_gt_png_is_reported_when_read(tmp_path):
    root = write_reasonvos(tmp_path)
    (root / "Annotations" / "mevis_a1b2c3_d4_0" / "00001.png").write_bytes(b"broken")
    bench = reasonvos.load_benchmark("reasonvos", root)
    with pytest.raises(MaskError, match="00001.png"):
        list(bench.gt_masks(bench.samples[0]))


def _edit_meta(root, edit):
    path = root / "meta_expressions.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["videos"]["a1b2c3_d4"].__setitem__("frames", []), "lists no frames"),
        (lambda d: d["videos"]["a1b2c3_d4"].pop("frames"), "has no 'frames' list"),
        (lambda d: d["videos"]["a1b2c3_d4"].__setitem__("frames", "00000"), r"\['frames'\] must be a JSON list"),
        (lambda d: d["videos"]["a1b2c3_d4"].pop("source"), "has no 'source'"),
        (lambda d: d["videos"]["a1b2c3_d4"]["expressions"][0].pop("exp_text"), "has no 'exp_text'"),
        (lambda d: d["videos"]["a1b2c3_d4"]["expressions"][0].pop("is_sent"), "has no 'is_sent'"),
        (lambda d: d["videos"]["a1b2c3_d4"]["expressions"][0].__setitem__("is_sent", "yes"), "needs 'is_sent'"),
        (lambda d: d["videos"]["a1b2c3_d4"]["expressions"][0].__setitem__("exp_text", " "), "empty 'exp_text'"),
        (lambda d: d.pop("videos"), "'videos' must be a JSON object"),
    ],
)
def test_malformed_metadata_names_the_file(tmp_path, edit, message):
    root = write_reasonvos(tmp_path)
    _edit_meta(root, edit)
    with pytest.raises(MetadataError, match=message) as e:
        reasonvos.load_benchmark("reasonvos", root)
    assert e.value.path == root / "meta_expressions.json"


def test_broken_json_and_missing_metadata(tmp_path):
    root = write_reasonvos(tmp_path)
    (root / "meta_expressions.json").write_text('{"videos": {')
    with pytest.raises(MetadataError, match="not valid JSON"):
        reasonvos.load_benchmark("reasonvos", tmp_path)
    (root / "meta_expressions.json").unlink()
    with pytest.raises(MissingFileError, match="meta_expressions.json"):
        reasonvos.load_benchmark("reasonvos", tmp_path)


def test_reasonvos_has_a_single_split(tmp_path):
    root = write_reasonvos(tmp_path)
    assert reasonvos.load_benchmark("reasonvos", root, "test").split is None
    with pytest.raises(MetadataError, match="single evaluation split"):
        reasonvos.load_benchmark("reasonvos", root, "train")


def test_the_cli_reports_bad_input_in_one_line_with_status_1(tmp_path, capsys):
    from reasonvos.cli import main

    root = write_reasonvos(tmp_path)
    (root / "meta_expressions.json").write_text('{"videos": ')
    (tmp_path / "pred").mkdir()
    assert main(["score", "reasonvos", "--root", str(root), "--pred", str(tmp_path / "pred")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "meta_expressions.json" in err and "not valid JSON" in err


def test_validate_reports_broken_metadata_and_exits_1(tmp_path, capsys):
    from reasonvos.cli import main

    root = write_reasonvos(tmp_path)
    (root / "meta_expressions.json").write_text('{"videos": ')
    assert main(["validate", "reasonvos", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "meta_expressions.json: not valid JSON" in out
    assert out.strip().splitlines()[-1].startswith("VERDICT: BROKEN")


def test_an_exp_text_that_is_not_a_string_is_not_called_empty(tmp_path):
    root = write_reasonvos(tmp_path)
    _edit_meta(root, lambda d: d["videos"]["a1b2c3_d4"]["expressions"][0].__setitem__("exp_text", 5))
    with pytest.raises(MetadataError, match="'exp_text' 5, which is not a string") as e:
        reasonvos.load_benchmark("reasonvos", root)
    assert "empty" not in str(e.value)


def test_a_mask_folder_that_is_a_broken_link_is_called_one(tmp_path):
    root = write_reasonvos(tmp_path)
    folder = root / "Annotations" / "vipseg_127_-hIVCYO4C90_000006101"
    shutil.rmtree(folder)
    folder.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(MissingFileError, match="is a broken symbolic link") as err:
        reasonvos.load_benchmark("reasonvos", root)
    assert err.value.path == folder


@pytest.fixture
def bench(tmp_path):
    return rv_loader.load(write_reasonvos(tmp_path / "data", default_videos()))


def _edited(tmp_path: Path, edit) -> Path:
    root = write_reasonvos(tmp_path / "data", default_videos())
    meta_path = root / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    edit(meta["videos"]["a1b2c3_d4"])
    meta_path.write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # a frame listed twice would be predicted (and written) twice under one name
        (lambda v: v["frames"].append(v["frames"][0]), "twice"),
        # null / objects are not frame names: str() turned them into 'None' / "{'f': 1}" silently
        (lambda v: v["frames"].__setitem__(1, None), "frame names"),
        (lambda v: v["frames"].__setitem__(1, {"f": 1}), "frame names"),
        # ids are opaque strings (ints tolerated); null or a list became 'None' / '[1]'
        (lambda v: v["expressions"][0].__setitem__("exp_id", None), "exp_id"),
        (lambda v: v["expressions"][0].__setitem__("obj_id", [0]), "obj_id"),
        (lambda v: v["expressions"][0].__setitem__("obj_id", True), "obj_id"),
    ],
)
def test_reasonvos_frames_and_ids_must_be_names(tmp_path, edit, message):
    root = _edited(tmp_path, edit)
    with pytest.raises(InputError, match=message) as err:
        rv_loader.load(root)
    assert err.value.path == root / "meta_expressions.json"


def test_an_empty_reasonvos_mask_folder_is_an_error_not_a_sample_scored_on_nothing(tmp_path):
    bench = rv_loader.load(write_reasonvos(tmp_path / "data", default_videos()))
    sample = bench.samples[0]
    for png in bench.mask_dir(sample).glob("*.png"):
        png.unlink()
    with pytest.raises(InputError, match="no PNG") as err:
        bench.scored_frames(sample)
    assert err.value.path == bench.mask_dir(sample)


def test_a_reasonvos_gt_mask_on_an_unlisted_frame_is_blamed_on_the_data_not_the_model(tmp_path):
    """GT stems must be a subset of the listed frames (docs/formats.md#reasonvos-layout): the runner only predicts listed
    frames, so such a GT frame would later be reported as a missing prediction."""
    bench = rv_loader.load(write_reasonvos(tmp_path / "data", default_videos()))
    sample = bench.samples[0]
    folder = bench.mask_dir(sample)
    (folder / "99999.png").write_bytes((folder / f"{bench.videos[sample.video_id].frames[0]}.png").read_bytes())
    with pytest.raises(InputError, match="99999") as err:
        bench.scored_frames(sample)
    assert err.value.path == folder
