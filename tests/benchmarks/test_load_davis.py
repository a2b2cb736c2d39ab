"""The plain DAVIS loader: flat folders and DAVIS roots of index PNGs, one sample per video."""

import numpy as np
import pytest
from writers.davis import write_davis

import reasonvos
from reasonvos.errors import MaskError, MetadataError, MissingFileError
from reasonvos.masks import write_index_png


def _present_ids(labels):
    ids = set()
    for lab in labels:
        ids |= {int(v) for v in np.unique(lab)}
    return tuple(str(i) for i in sorted(ids - {0, 255}))


def test_flat_folder_gives_one_sample_per_video_with_the_ids_present(tmp_path):
    fx = write_davis(tmp_path)
    bench = reasonvos.load_benchmark("davis", fx.root)
    assert bench.prediction_kind == "index" and bench.has_ground_truth
    assert sorted(bench.videos) == sorted(fx.labels)
    for s in bench.samples:
        assert s.key == s.video_id and s.exp_id == ""
        assert s.obj_ids == _present_ids(fx.labels[s.video_id])
        assert list(bench.videos[s.video_id].frames) == fx.frames[s.video_id]
    assert bench.sample("soapbox").obj_ids == ("1", "3")  # ids need not be contiguous


def test_labels_are_palette_indices_with_void_and_masks_are_their_union(tmp_path):
    fx = write_davis(tmp_path)
    bench = reasonvos.load_benchmark("davis", fx.root)
    labels = bench.gt_labels("bike-packing", "00001")
    assert labels.dtype == np.uint8 and (labels == fx.labels["bike-packing"][1]).all()
    assert (labels == 255).any()
    s = bench.sample("bike-packing")
    for frame, mask in bench.gt_masks(s):
        assert (mask == fx.masks("bike-packing")[int(frame)]).all()
    assert not bench.gt_mask(bench.sample("soapbox"), "00002").any()  # an all-background frame


def test_predictions_are_index_pngs_directly_in_the_video_folder(tmp_path):
    bench = reasonvos.load_benchmark("davis", write_davis(tmp_path).root)
    s = bench.sample("bear")
    assert str(bench.prediction_dir(s)) == "bear"
    assert str(bench.prediction_path(s, "00002")) == "bear/00002.png"
    assert bench.gt_size(s) == (12, 16)


@pytest.mark.parametrize("annotations", ["Annotations", "Annotations_unsupervised"])
def test_davis_root_with_imagesets_splits(tmp_path, annotations):
    fx = write_davis(tmp_path, layout="davis", annotations=annotations)
    for root in (fx.root, tmp_path):  # the DAVIS folder or its parent
        val = reasonvos.load_benchmark("davis", root, "val")
        assert list(val.videos) == fx.splits["val"]
    train = reasonvos.load_benchmark("davis", fx.root, "train")
    assert list(train.videos) == fx.splits["train"]
    everything = reasonvos.load_benchmark("davis", fx.root)
    assert sorted(everything.videos) == sorted(fx.labels)
    assert everything.videos["bear"].image_path("00000").is_file()


def test_a_split_needs_its_list(tmp_path):
    fx = write_davis(tmp_path, layout="davis")
    with pytest.raises(MissingFileError, match="test-dev.txt"):
        reasonvos.load_benchmark("davis", fx.root, "test-dev")
    flat = write_davis(tmp_path / "flat")
    with pytest.raises(MetadataError, match="ImageSets"):
        reasonvos.load_benchmark("davis", flat.root, "val")


def test_a_listed_video_without_annotations_is_an_error(tmp_path):
    fx = write_davis(tmp_path, layout="davis")
    (fx.root / "ImageSets" / "2017" / "val.txt").write_text("bear\nmissing-video\n")
    with pytest.raises(MissingFileError, match="missing-video"):
        reasonvos.load_benchmark("davis", fx.root, "val")


def test_bad_pngs_are_reported_at_load(tmp_path):
    fx = write_davis(tmp_path)
    write_index_png(fx.root / "bear" / "00001.png", np.zeros((5, 5), np.uint8))
    with pytest.raises(MaskError, match="00001.png: size 5x5 differs"):
        reasonvos.load_benchmark("davis", fx.root)
    (fx.root / "bear" / "00001.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(MaskError, match="does not decode"):
        reasonvos.load_benchmark("davis", fx.root)


def test_empty_video_folder_and_empty_root(tmp_path):
    fx = write_davis(tmp_path)
    (fx.root / "empty-video").mkdir()
    with pytest.raises(MissingFileError, match="no PNG frames"):
        reasonvos.load_benchmark("davis", fx.root)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(MissingFileError, match="no DAVIS annotations"):
        reasonvos.load_benchmark("davis", tmp_path / "nothing")


def test_a_loaded_benchmark_survives_pickling_for_worker_processes(tmp_path):
    import pickle

    fx = write_davis(tmp_path)
    bench = pickle.loads(pickle.dumps(reasonvos.load_benchmark("davis", fx.root)))
    assert (bench.gt_labels("bear", "00000") == fx.labels["bear"][0]).all()


def test_without_the_object_scan_only_frames_and_size_are_read(tmp_path):
    fx = write_davis(tmp_path)
    full = reasonvos.load_benchmark("davis", fx.root)
    quick = reasonvos.load_benchmark("davis", fx.root, scan_objects=False)
    assert [s.obj_ids for s in quick.samples] == [()] * len(quick.samples)
    assert {v: (x.frames, x.size) for v, x in quick.videos.items()} == {
        v: (x.frames, x.size) for v, x in full.videos.items()}


def test_hidden_folders_are_not_videos(tmp_path):
    fx = write_davis(tmp_path)
    (fx.root / ".ipynb_checkpoints").mkdir()
    bench = reasonvos.load_benchmark("davis", fx.root)
    assert ".ipynb_checkpoints" not in bench.videos and len(bench.videos) == len(fx.labels)
