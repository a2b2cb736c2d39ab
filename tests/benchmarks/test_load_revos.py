"""The ReVOS loader: nested video keys, both layouts, type_id kinds, GT by position, overlaps."""

import json
import pickle

import numpy as np
import pytest
from writers.revos import write_revos

import reasonvos
from reasonvos.benchmarks import registry
from reasonvos.errors import InputError, MetadataError, MissingFileError


def test_valid_is_the_default_and_nested_keys_are_read_as_given(tmp_path):
    fx = write_revos(tmp_path)
    bench = reasonvos.load_benchmark("revos", tmp_path)  # the parent of ReVOS/ is accepted
    assert bench.split == "valid" and bench.has_ground_truth
    assert sorted(s.key for s in bench.samples) == sorted(fx.sums)
    video = bench.videos["UVO/all/-fbscFfkh4M"]
    assert video.frames == ("00145", "00150", "00165")  # the names as listed, never synthesised
    assert video.size == (12, 16)
    assert video.image_path("00150") == fx.root / "JPEGImages" / "UVO/all/-fbscFfkh4M" / "00150.jpg"
    assert str(bench.prediction_path(bench.sample("UVO/all/-fbscFfkh4M/1"), "00150")) == \
        "UVO/all/-fbscFfkh4M/1/00150.png"


def test_the_repack_without_jpegimages_finds_the_frames(tmp_path):
    fx = write_revos(tmp_path, repack=True)
    bench = reasonvos.load_benchmark("revos", fx.root)
    assert bench.videos["UVO/all/-fbscFfkh4M"].image_dir == fx.root / "UVO/all/-fbscFfkh4M"
    assert bench.videos["UVO/all/-fbscFfkh4M"].image_path("00145").is_file()


def test_type_id_becomes_the_kind_and_ids_stay_strings(tmp_path):
    write_revos(tmp_path)
    bench = reasonvos.load_benchmark("revos", tmp_path)
    kinds = {s.key: s.kind for s in bench.samples}
    assert kinds["UVO/all/-fbscFfkh4M/0"] == "referring"
    assert kinds["UVO/all/-fbscFfkh4M/1"] == "reasoning"
    assert kinds["UVO/all/-fbscFfkh4M/2"] == "no-target"
    two = bench.sample("UVO/all/-fbscFfkh4M/1")
    assert two.obj_ids == ("0", "1") and two.extra["anno_ids"] == ("3003019", "3003020")
    assert bench.sample("UVO/all/-fbscFfkh4M/2").extra["anno_ids"] == ()


def test_reasoning_expressions_are_sentences_for_the_prompt_templates(tmp_path):
    write_revos(tmp_path)
    bench = reasonvos.load_benchmark("revos", tmp_path)
    spec = registry.get("revos")
    assert spec.instruction_style == "reasoning"
    assert {s.kind: spec.is_sentence(s) for s in bench.samples} == {
        "referring": False, "reasoning": True, "no-target": False}


def test_gt_is_indexed_by_position_and_overlaps_sum_as_the_official_scorer_does(tmp_path):
    fx = write_revos(tmp_path)
    bench = reasonvos.load_benchmark("revos", tmp_path)
    for s in bench.samples:
        for t, frame in enumerate(bench.videos[s.video_id].frames):
            expected = fx.sums[s.key][t]
            np.testing.assert_array_equal(bench.gt_sum(s, frame), expected)
            np.testing.assert_array_equal(bench.gt_mask(s, frame), expected > 0)
    both = bench.sample("UVO/all/-fbscFfkh4M/1")
    assert bench.gt_sum(both, "00145").max() == 2  # the two objects overlap
    assert not bench.gt_mask(bench.sample("UVO/all/-fbscFfkh4M/2"), "00145").any()  # no target: empty
    np.testing.assert_array_equal(bench.foreground("UVO/all/-fbscFfkh4M", "00165"),
                                  fx.foreground["UVO/all/-fbscFfkh4M"][2])


def test_the_benchmark_pickles_without_its_mask_dicts(tmp_path):
    write_revos(tmp_path)
    bench = reasonvos.load_benchmark("revos", tmp_path)
    s = bench.sample("MeViS/train/0ab4afe7fb46/0")
    before = bench.gt_mask(s, "00001")
    copy = pickle.loads(pickle.dumps(bench))
    assert copy._dicts == {}
    np.testing.assert_array_equal(copy.gt_mask(s, "00001"), before)


def test_train_split_and_present_splits(tmp_path):
    write_revos(tmp_path, split="train")
    assert registry.get("revos").present_splits(tmp_path) == ["train"]
    assert len(reasonvos.load_benchmark("revos", tmp_path, split="train").samples) == 5
    with pytest.raises(MissingFileError, match="valid expression file not found"):
        reasonvos.load_benchmark("revos", tmp_path, split="valid")


def _edit_meta(root, edit):
    path = root / "meta_expressions_valid_.json"
    meta = json.loads(path.read_text())
    edit(meta["videos"]["UVO/all/-fbscFfkh4M"]["expressions"])
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda e: e["0"].update(type_id=3), "type_id'] must be 0, 1 or 2"),
    (lambda e: e["1"].update(obj_id=[0]), "1 obj_id but 2 anno_id"),
    (lambda e: e["0"].update(anno_id=3003019), "must be a list of ids"),
])
def test_bad_expressions_are_refused_naming_the_entry(tmp_path, edit, message):
    fx = write_revos(tmp_path)
    _edit_meta(fx.root, edit)
    with pytest.raises(MetadataError, match=message):
        reasonvos.load_benchmark("revos", fx.root)


def test_a_missing_anno_id_is_an_error_when_its_mask_is_needed(tmp_path):
    fx = write_revos(tmp_path)
    _edit_meta(fx.root, lambda e: e["0"].update(anno_id=[999], obj_id=[0]))
    bench = reasonvos.load_benchmark("revos", fx.root)
    with pytest.raises(InputError, match="anno_id 999 .* is not in the mask dict"):
        bench.gt_mask(bench.sample("UVO/all/-fbscFfkh4M/0"), "00145")


def test_a_missing_foreground_dict_is_refused(tmp_path):
    fx = write_revos(tmp_path)
    (fx.root / "mask_dict_foreground.json").unlink()
    with pytest.raises(MissingFileError, match="mask_dict_foreground.json not found"):
        reasonvos.load_benchmark("revos", fx.root)
