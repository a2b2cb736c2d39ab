"""The Ref-DAVIS-17 loader: converted and raw layouts give the same samples, in the converter's order."""

import json
import shutil

import numpy as np
import pytest
from writers.refdavis import TEXT_FILES, write_refdavis_converted, write_refdavis_raw

import reasonvos
from reasonvos.errors import MaskError, MetadataError, MissingFileError
from reasonvos.masks import write_index_png


def _check_against_fixture(bench, fx, split):
    assert list(bench.videos) == fx.splits[split]
    expected = [k for k in fx.masks if k.split("/")[0] in fx.splits[split]]
    assert [s.key for s in bench.samples] == expected
    for s in bench.samples:
        assert s.text == fx.texts[s.key]
        assert (s.kind, s.annotator) == fx.kinds[s.key]
        assert s.obj_ids == (fx.obj_ids[s.key],)
        for frame, mask in bench.gt_masks(s):
            assert (mask == fx.masks[s.key][int(frame)]).all()
    for vid in bench.videos:
        assert list(bench.videos[vid].frames) == fx.frames[vid]


@pytest.mark.parametrize("split, name", [(None, "val"), ("valid", "val"), ("train", "train")])
def test_converted_layout(tmp_path, split, name):
    fx = write_refdavis_converted(tmp_path)
    bench = reasonvos.load_benchmark("refdavis", tmp_path, split)  # parent of ref-davis/ accepted
    assert bench.layout == "converted" and bench.split == (split or "valid")
    _check_against_fixture(bench, fx, name)


@pytest.mark.parametrize("split, name", [(None, "val"), ("train", "train")])
def test_raw_archives_layout(tmp_path, split, name):
    fx = write_refdavis_raw(tmp_path)
    bench = reasonvos.load_benchmark("refdavis", fx.root, split)
    assert bench.layout == "raw"
    _check_against_fixture(bench, fx, name)


def test_both_layouts_agree_and_can_be_forced(tmp_path):
    fx = write_refdavis_converted(tmp_path)
    converted = reasonvos.load_benchmark("refdavis", fx.root)
    raw = reasonvos.load_benchmark("refdavis", fx.root, layout="raw")
    assert raw.layout == "raw"
    assert [(s.key, s.text, s.obj_ids, s.kind, s.annotator) for s in raw.samples] == [
        (s.key, s.text, s.obj_ids, s.kind, s.annotator) for s in converted.samples
    ]


def test_four_expressions_per_object_in_annotator_order(tmp_path):
    bench = reasonvos.load_benchmark("refdavis", write_refdavis_raw(tmp_path).root)
    swan = bench.samples_of("blackswan")
    assert [(s.exp_id, s.kind, s.annotator) for s in swan] == [
        ("0", "first-frame", 1), ("1", "full-video", 1), ("2", "first-frame", 2), ("3", "full-video", 2),
    ]
    # the release's text files, in slot order (the writer's table, not the loader's own constant)
    assert [(slot.file, slot.encoding, slot.kind, slot.annotator) for slot in bench.annotator_slots] == list(
        TEXT_FILES)
    assert len(bench.samples_of_slot(2)) == len(bench.samples) // 4
    assert all(s.annotator == 2 and s.kind == "first-frame" for s in bench.samples_of_slot(2))


def test_latin1_annotator2_text_and_misspelled_names(tmp_path):
    bench = reasonvos.load_benchmark("refdavis", write_refdavis_raw(tmp_path).root)
    assert bench.sample("blackswan/2").text == "un cygne noir élégant"
    assert "dogs-scale" in bench.videos  # "dog-scale" in the text files
    train = reasonvos.load_benchmark("refdavis", tmp_path, "train")
    assert {"classic-car", "motorbike"} <= set(train.videos)  # "clasic-car", "motor-bike"


def test_objects_are_ordered_as_strings_like_the_converter(tmp_path):
    bench = reasonvos.load_benchmark("refdavis", write_refdavis_raw(tmp_path).root)
    salsa = bench.samples_of("salsa")
    order = [s.obj_ids[0] for s in salsa if s.extra["slot"] == 0]
    assert order == ["1", "10", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert bench.sample("salsa/4").obj_ids == ("10",)


def test_gt_labels_are_the_unsupervised_index_pngs_with_void(tmp_path):
    fx = write_refdavis_raw(tmp_path)
    bench = reasonvos.load_benchmark("refdavis", fx.root)
    labels = bench.gt_labels("dogs-scale", "00001")
    assert labels.dtype == np.uint8 and (labels == fx.labels["dogs-scale"][1]).all() and (labels == 255).any()
    assert bench.gt_size(bench.sample("dogs-scale/0")) == (12, 16)


def test_predictions_are_binary_per_expression(tmp_path):
    bench = reasonvos.load_benchmark("refdavis", write_refdavis_converted(tmp_path).root)
    assert bench.prediction_kind == "binary"
    assert str(bench.prediction_path(bench.sample("salsa/7"), "00001")) == "salsa/7/00001.png"


def test_categories_from_davis_semantics(tmp_path):
    bench = reasonvos.load_benchmark("refdavis", write_refdavis_raw(tmp_path).root)
    assert bench.sample("blackswan/0").extra["category"] == "swan"


def test_an_object_missing_from_one_text_file_is_reported(tmp_path):
    fx = write_refdavis_raw(tmp_path)
    path = fx.root / "davis_text_annotations" / "Davis17_annot2_full_video.txt"
    lines = path.read_bytes().decode("latin-1").splitlines(keepends=True)
    path.write_bytes("".join(line for line in lines if not line.startswith("dog-scale 2 ")).encode("latin-1"))
    with pytest.raises(MetadataError, match="Davis17_annot2_full_video.txt: no expression for video dogs-scale object 2"):
        reasonvos.load_benchmark("refdavis", fx.root)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'blackswan one "a swan"\n', "line 1: expected"),
        (b'blackswan 1 "a swan"\nblackswan 1 "again"\n', "line 2: video blackswan object 1 appears twice"),
        ("blackswan 1 \"cygne élégant\"\n".encode("latin-1"), "not valid utf-8"),
    ],
)
def test_malformed_text_annotations(tmp_path, content, message):
    fx = write_refdavis_raw(tmp_path)
    (fx.root / "davis_text_annotations" / "Davis17_annot1.txt").write_bytes(content)
    with pytest.raises(MetadataError, match=message):
        reasonvos.load_benchmark("refdavis", fx.root)


def test_missing_pieces_are_named(tmp_path):
    fx = write_refdavis_raw(tmp_path)
    shutil.rmtree(fx.root / "DAVIS" / "Annotations_unsupervised" / "480p" / "salsa")
    with pytest.raises(MissingFileError, match="salsa"):
        reasonvos.load_benchmark("refdavis", fx.root)
    (fx.root / "davis_text_annotations" / "Davis17_annot1.txt").unlink()
    with pytest.raises(MissingFileError, match="Davis17_annot1.txt"):
        reasonvos.load_benchmark("refdavis", fx.root)


def test_converted_meta_errors(tmp_path):
    fx = write_refdavis_converted(tmp_path)
    path = fx.root / "meta_expressions" / "valid" / "meta_expressions.json"
    data = json.loads(path.read_text())
    data["videos"]["blackswan"]["expressions"]["0"]["obj_id"] = "one"
    path.write_text(json.dumps(data))
    with pytest.raises(MetadataError, match="not an object id"):
        reasonvos.load_benchmark("refdavis", fx.root)
    path.write_text("{")
    with pytest.raises(MetadataError, match="not valid JSON"):
        reasonvos.load_benchmark("refdavis", fx.root)
    with pytest.raises(MetadataError, match="layout"):
        reasonvos.load_benchmark("refdavis", fx.root, layout="other")


def test_converted_annotations_missing_a_frame(tmp_path):
    fx = write_refdavis_converted(tmp_path)
    (fx.root / "valid" / "Annotations" / "blackswan" / "00001.png").unlink()
    with pytest.raises(MissingFileError, match="00001"):
        reasonvos.load_benchmark("refdavis", fx.root)


def test_a_label_png_whose_size_differs_from_the_frames_is_an_error(tmp_path):
    fx = write_refdavis_raw(tmp_path)
    write_index_png(fx.root / "DAVIS" / "Annotations_unsupervised" / "480p" / "blackswan" / "00002.png",
                    np.zeros((3, 3), np.uint8))
    bench = reasonvos.load_benchmark("refdavis", fx.root)
    with pytest.raises(MaskError, match="00002.png: size 3x3 differs"):
        list(bench.gt_masks(bench.sample("blackswan/0")))


def test_a_loaded_benchmark_survives_pickling_for_worker_processes(tmp_path):
    import pickle

    fx = write_refdavis_converted(tmp_path)
    bench = pickle.loads(pickle.dumps(reasonvos.load_benchmark("refdavis", fx.root)))
    assert (bench.gt_mask(bench.sample("salsa/4"), "00001") == fx.masks["salsa/4"][1]).all()


def test_a_utf8_byte_order_mark_in_annotator1_files_is_not_part_of_the_first_video_name(tmp_path):
    fx = write_refdavis_raw(tmp_path)
    path = fx.root / "davis_text_annotations" / "Davis17_annot1.txt"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    plain = reasonvos.load_benchmark("refdavis", write_refdavis_raw(tmp_path / "plain").root)
    with_bom = reasonvos.load_benchmark("refdavis", fx.root)
    assert [(s.key, s.text) for s in with_bom.samples] == [(s.key, s.text) for s in plain.samples]
