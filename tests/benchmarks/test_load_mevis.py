"""The MeViS loader: splits, v1/v2 expression files, multi-object GT from mask_dict RLEs."""

import json
import pickle

import numpy as np
import pytest
from writers.mevis import write_mevis

import reasonvos
from reasonvos.errors import InputError, MaskError, MetadataError, MissingFileError


def test_valid_u_is_the_default_and_reads_counts_texts_frames(tmp_path):
    fx = write_mevis(tmp_path)
    bench = reasonvos.load_benchmark("mevis", tmp_path)  # the parent of mevis/ is accepted
    assert bench.split == "valid_u" and bench.version == "v1" and bench.has_ground_truth
    assert sorted(s.key for s in bench.samples) == sorted(fx.masks)
    assert len(bench.samples) == 4  # the v2-only expression is not in the v1 file
    for s in bench.samples:
        assert s.text == fx.texts[s.key]
    assert list(bench.videos["0ab4afe7fb46"].frames) == fx.frames["0ab4afe7fb46"]
    two = bench.sample("0ab4afe7fb46/1")
    assert two.obj_ids == ("0", "1") and two.extra["anno_ids"] == ("101", "102")


def test_gt_is_the_union_of_objects_and_null_frames_are_empty(tmp_path):
    fx = write_mevis(tmp_path)
    bench = reasonvos.load_benchmark("mevis", fx.root)
    for s in bench.samples:
        got = list(bench.gt_masks(s))
        assert [f for f, _ in got] == fx.frames[s.video_id]
        for (_, m), expected in zip(got, fx.masks[s.key], strict=True):
            assert m.dtype == bool and (m == expected).all()
    absent = bench.sample("0ab4afe7fb46/2")
    assert not bench.gt_mask(absent, "00000").any()  # anno 102 is null in frame 0


def test_gt_size_comes_from_the_rle(tmp_path):
    fx = write_mevis(tmp_path, jpeg=False)
    bench = reasonvos.load_benchmark("mevis", fx.root)
    assert bench.gt_size(bench.sample("0ab4afe7fb46/0")) == (12, 16)
    assert bench.gt_size(bench.sample("377b1c5f365c/0")) == (10, 14)


def test_prediction_paths_are_video_then_exp_id(tmp_path):
    bench = reasonvos.load_benchmark("mevis", write_mevis(tmp_path).root)
    assert str(bench.prediction_path(bench.sample("377b1c5f365c/0"), "00002")) == "377b1c5f365c/0/00002.png"


def test_v2_file_is_read_and_recorded(tmp_path):
    fx = write_mevis(tmp_path, versions=("v2",))
    bench = reasonvos.load_benchmark("mevis", fx.root)
    assert bench.version == "v2" and bench.meta_path.name == "meta_expressions_v2.json"
    assert len(bench.samples) == 5
    with pytest.raises(MissingFileError, match="meta_expressions.json"):
        reasonvos.load_benchmark("mevis", fx.root, version="v1")


def test_both_versions_present_reads_v1_unless_v2_is_asked_for(tmp_path):
    fx = write_mevis(tmp_path, versions=("v1", "v2"))
    v1 = reasonvos.load_benchmark("mevis", fx.root)
    assert v1.version == "v1" and len(v1.samples) == 4 and "v2" in v1.version_note
    v2 = reasonvos.load_benchmark("mevis", fx.root, version="v2")
    assert v2.version == "v2" and len(v2.samples) == 5
    assert (v2.gt_mask(v2.sample("0ab4afe7fb46/3"), "00001") == fx.masks["0ab4afe7fb46/3"][1]).all()


def test_train_split(tmp_path):
    fx = write_mevis(tmp_path, split="train")
    bench = reasonvos.load_benchmark("mevis", fx.root, "train")
    assert bench.split == "train" and len(bench.samples) == 4
    s = bench.sample("0ab4afe7fb46/1")
    assert (bench.gt_mask(s, "00003") == fx.masks[s.key][3]).all()


def test_valid_split_has_no_ground_truth(tmp_path):
    fx = write_mevis(tmp_path, split="valid")
    bench = reasonvos.load_benchmark("mevis", fx.root, "valid")
    assert not bench.has_ground_truth and len(bench.samples) == 4
    s = bench.sample("0ab4afe7fb46/0")
    assert s.obj_ids == () and bench.gt_size(s) == (12, 16)  # from the first JPEG
    with pytest.raises(InputError, match="no ground truth"):
        bench.gt_mask(s, "00000")


def test_unknown_split_and_missing_split_folder(tmp_path):
    fx = write_mevis(tmp_path)
    with pytest.raises(InputError, match="no split 'test'"):
        reasonvos.load_benchmark("mevis", fx.root, "test")
    with pytest.raises(MissingFileError, match="train"):
        reasonvos.load_benchmark("mevis", fx.root, "train")


def test_mask_dict_is_parsed_once_and_not_pickled(tmp_path):
    fx = write_mevis(tmp_path)
    bench = reasonvos.load_benchmark("mevis", fx.root)
    first = bench.mask_dict()
    (fx.root / "valid_u" / "mask_dict.json").write_text("{}")  # a second read would see this
    assert bench.mask_dict() is first
    clone = pickle.loads(pickle.dumps(bench))
    assert clone._mask_dict is None
    s = clone.sample("0ab4afe7fb46/0")
    with pytest.raises(MetadataError, match="anno_id 101"):
        clone.gt_mask(s, "00000")


def _edit_mask_dict(fx, edit):
    path = fx.root / "valid_u" / "mask_dict.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


def test_mask_dict_with_the_wrong_number_of_frames_names_the_file_and_anno_id(tmp_path):
    fx = write_mevis(tmp_path)
    _edit_mask_dict(fx, lambda d: d["205"].pop())
    bench = reasonvos.load_benchmark("mevis", fx.root)
    with pytest.raises(MetadataError, match=r"mask_dict.json: anno_id 205 has 2 entries, but video 377b1c5f365c lists 3"):
        bench.gt_mask(bench.sample("377b1c5f365c/0"), "00000")


def test_rle_whose_size_disagrees_is_an_error(tmp_path):
    fx = write_mevis(tmp_path)
    _edit_mask_dict(fx, lambda d: d["102"].__setitem__(1, reasonvos.masks.encode_rle(np.zeros((5, 5), bool))))
    bench = reasonvos.load_benchmark("mevis", fx.root)
    s = bench.sample("0ab4afe7fb46/1")
    with pytest.raises(MaskError, match=r"mask_dict.json: anno_id 102, frame 00001: RLE size 5x5 differs"):
        list(bench.gt_masks(s))


def test_missing_anno_id_in_mask_dict(tmp_path):
    fx = write_mevis(tmp_path)
    _edit_mask_dict(fx, lambda d: d.pop("101"))
    bench = reasonvos.load_benchmark("mevis", fx.root)
    with pytest.raises(MetadataError, match="anno_id 101"):
        bench.gt_mask(bench.sample("0ab4afe7fb46/0"), "00000")


def _edit_meta(fx, edit, split="valid_u"):
    path = fx.root / split / "meta_expressions.json"
    data = json.loads(path.read_text())
    edit(data["videos"])
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda v: v["377b1c5f365c"].__setitem__("frames", []), "lists no frames"),
        (lambda v: v["377b1c5f365c"].pop("frames"), "has no 'frames'"),
        (lambda v: v["377b1c5f365c"]["expressions"]["0"].pop("anno_id"), "has no 'anno_id'"),
        (lambda v: v["377b1c5f365c"]["expressions"]["0"].__setitem__("exp", ""), "no expression text"),
        (lambda v: v["377b1c5f365c"]["expressions"]["0"].__setitem__("anno_id", [205, 205]), "anno_id twice"),
        (lambda v: v["377b1c5f365c"].__setitem__("expressions", []), "must be a JSON object"),
    ],
)
def test_malformed_metadata_names_the_file(tmp_path, edit, message):
    fx = write_mevis(tmp_path)
    _edit_meta(fx, edit)
    with pytest.raises(MetadataError, match=message) as e:
        reasonvos.load_benchmark("mevis", fx.root)
    assert e.value.path.name == "meta_expressions.json"


def test_duplicate_video_ids_and_broken_json_are_refused(tmp_path):
    fx = write_mevis(tmp_path)
    path = fx.root / "valid_u" / "meta_expressions.json"
    text = path.read_text()
    path.write_text(text.replace('"377b1c5f365c"', '"0ab4afe7fb46"'))
    with pytest.raises(MetadataError, match="duplicate key '0ab4afe7fb46'"):
        reasonvos.load_benchmark("mevis", fx.root)
    path.write_text(text[:-5])
    with pytest.raises(MetadataError, match="not valid JSON"):
        reasonvos.load_benchmark("mevis", fx.root)


def test_missing_mask_dict_and_missing_root(tmp_path):
    fx = write_mevis(tmp_path)
    (fx.root / "valid_u" / "mask_dict.json").unlink()
    with pytest.raises(MissingFileError, match="mask_dict.json"):
        reasonvos.load_benchmark("mevis", fx.root)
    with pytest.raises(MissingFileError):
        reasonvos.load_benchmark("mevis", tmp_path / "nowhere")


def test_a_duplicate_anno_id_in_the_mask_dict_is_refused_naming_the_file_and_the_key(tmp_path):
    """json.load would keep the last of two RLE lists of anno_id 101, and the score would change."""
    fx = write_mevis(tmp_path)
    path = fx.root / "valid_u" / "mask_dict.json"
    data = json.loads(path.read_text())
    body = ", ".join(json.dumps({k: v})[1:-1] for k, v in data.items())
    path.write_text("{" + body + ", " + json.dumps({"101": data["102"]})[1:-1] + "}")
    bench = reasonvos.load_benchmark("mevis", fx.root)
    with pytest.raises(MetadataError, match="duplicate key '101'") as err:
        bench.gt_mask(bench.sample("0ab4afe7fb46/0"), "00000")
    assert err.value.path == path
    with pytest.raises(MetadataError, match="duplicate key '101'"):  # remembered, not parsed again
        bench.gt_mask(bench.sample("377b1c5f365c/0"), "00000")


@pytest.mark.parametrize(
    ("text", "reason"),
    [('{"videos": {"v": {"frames": [' + "9" * 5000 + "]}}}", "digits"), ("[" * 100_000 + "]" * 100_000, "nested")],
)
def test_hostile_json_in_the_metadata_is_one_error_naming_the_file(tmp_path, text, reason):
    fx = write_mevis(tmp_path)
    path = fx.root / "valid_u" / "meta_expressions.json"
    path.write_text(text)
    with pytest.raises(MetadataError, match=reason) as err:
        reasonvos.load_benchmark("mevis", fx.root)
    assert err.value.path == path
