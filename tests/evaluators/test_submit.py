"""``reasonvos submit``: complete, right-sized, binary predictions become a zip in the server's layout."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from reasonvos.evaluators.submission import write_submission
from writers.mevis import write_mevis
from writers.predictions import write_predictions
from writers.refytvos import write_refytvos

from reasonvos import load_benchmark
from reasonvos.cli import main
from reasonvos.errors import InputError, PredictionError
from reasonvos.masks import write_binary_png


@pytest.fixture
def ytvos(tmp_path):
    fx = write_refytvos(tmp_path / "data", with_train=False)
    bench = load_benchmark("refytvos", fx.root, "valid")
    write_predictions(bench, tmp_path / "pred")
    return bench, tmp_path / "pred"


def test_refytvos_zip_holds_annotations_video_exp_frame(ytvos, tmp_path):
    bench, pred = ytvos
    out = tmp_path / "sub.zip"
    rc = main(["submit", "refytvos", "--root", str(bench.root), "--split", "valid", "--pred", str(pred),
               "--out", str(out), "--workers", "2", "--quiet"])
    assert rc == 0
    names = set(zipfile.ZipFile(out).namelist())
    expected = {f"Annotations/{s.video_id}/{s.exp_id}/{f}.png" for s in bench.samples for f in bench.prediction_frames(s)}
    assert names == expected
    s = bench.samples[0]
    f = bench.prediction_frames(s)[0]
    assert zipfile.ZipFile(out).read(f"Annotations/{s.video_id}/{s.exp_id}/{f}.png") == (
        pred / bench.prediction_path(s, f)).read_bytes()


def test_mevis_valid_zip_has_video_folders_at_the_root(tmp_path):
    fx = write_mevis(tmp_path / "data", split="valid")
    bench = load_benchmark("mevis", fx.root, "valid")
    write_predictions(bench, tmp_path / "pred", value=1)  # 0/1 masks are re-encoded as 0/255
    sub = write_submission(bench, tmp_path / "pred", tmp_path / "m.zip", workers=1)
    zf = zipfile.ZipFile(tmp_path / "m.zip")
    names = zf.namelist()
    assert set(names) == {f"{s.video_id}/{s.exp_id}/{f}.png" for s in bench.samples for f in bench.prediction_frames(s)}
    assert sub.reencoded == len(names)
    arr = np.asarray(Image.open(io.BytesIO(zf.read(names[0]))))
    assert set(np.unique(arr)) <= {0, 255}


def test_incomplete_or_bad_predictions_write_no_zip(ytvos, tmp_path, capsys):
    bench, pred = ytvos
    s = bench.samples[0]
    missing = pred / bench.prediction_path(s, bench.prediction_frames(s)[-1])
    missing.unlink()
    s2 = bench.samples[1]
    small = pred / bench.prediction_path(s2, bench.prediction_frames(s2)[0])
    write_binary_png(small, np.zeros((2, 2), bool))
    out = tmp_path / "sub.zip"
    with pytest.raises(PredictionError) as info:
        write_submission(bench, pred, out, workers=1)
    assert str(missing) in info.value.report.format()
    assert not out.exists()
    missing.write_bytes(small.read_bytes())
    with pytest.raises(PredictionError, match="wrong size"):
        write_submission(bench, pred, out, workers=1)
    assert not out.exists()
    rc = main(["submit", "refytvos", "--root", str(bench.root), "--split", "valid", "--pred", str(pred),
               "--out", str(out), "--workers", "1", "--quiet"])
    assert rc == 1 and "wrong size" in capsys.readouterr().err


def test_only_server_scored_benchmarks_and_zip_names(ytvos, tmp_path):
    bench, pred = ytvos
    with pytest.raises(InputError, match=r"\.zip"):
        write_submission(bench, pred, tmp_path / "sub.tar", workers=1)


@pytest.fixture
def mevis(tmp_path):
    from writers.mevis import write_mevis

    fx = write_mevis(tmp_path / "data", split="valid")
    return load_benchmark("mevis", fx.root, "valid")


def _write_all(bench, pred: Path, image_of) -> None:
    rng = np.random.default_rng(1)
    for s in bench.samples:
        for frame in bench.prediction_frames(s):
            path = pred / bench.prediction_path(s, frame)
            path.parent.mkdir(parents=True, exist_ok=True)
            image_of(rng.random(bench.gt_size(s)) < 0.3).save(path)


def test_a_palette_png_with_indices_0_and_255_is_reencoded_as_grayscale(mevis, tmp_path):
    def palette_png(mask: np.ndarray) -> Image.Image:
        img = Image.fromarray(mask.astype(np.uint8) * 255, mode="P")
        img.putpalette([0, 0, 0] * 256)  # every index is black: read as colours, the mask vanishes
        return img

    _write_all(mevis, tmp_path / "pred", palette_png)
    sub = write_submission(mevis, tmp_path / "pred", tmp_path / "m.zip", workers=1)
    assert sub.reencoded == sub.files
    zf = zipfile.ZipFile(tmp_path / "m.zip")
    name = zf.namelist()[0]
    with Image.open(io.BytesIO(zf.read(name))) as img:
        assert img.mode == "L"
        stored = np.asarray(img)
    with Image.open(tmp_path / "pred" / name) as src:
        assert np.array_equal(stored != 0, np.asarray(src) != 0)


def test_a_grayscale_0_255_png_is_stored_byte_for_byte(mevis, tmp_path):
    _write_all(mevis, tmp_path / "pred", lambda m: Image.fromarray(m.astype(np.uint8) * 255, mode="L"))
    sub = write_submission(mevis, tmp_path / "pred", tmp_path / "m.zip", workers=1)
    assert sub.reencoded == 0
    zf = zipfile.ZipFile(tmp_path / "m.zip")
    assert all(zf.read(n) == (tmp_path / "pred" / n).read_bytes() for n in zf.namelist())


def test_submit_out_that_is_a_folder_is_refused_and_named(mevis, tmp_path):
    _write_all(mevis, tmp_path / "pred", lambda m: Image.fromarray(m.astype(np.uint8) * 255, mode="L"))
    (tmp_path / "m.zip").mkdir()
    with pytest.raises(InputError, match="folder") as info:
        write_submission(mevis, tmp_path / "pred", tmp_path / "m.zip", workers=1)
    assert str(tmp_path / "m.zip") in str(info.value)


def test_reencoded_zip_entries_carry_the_prediction_files_date_not_the_clock(mevis, tmp_path):
    import os

    _write_all(mevis, tmp_path / "pred", lambda m: Image.fromarray(m.astype(np.uint8), mode="L"))  # 0/1
    stamp = 1577880000  # 2020-01-01 12:00 UTC: the zip is the same whenever it is built
    for p in (tmp_path / "pred").rglob("*.png"):
        os.utime(p, (stamp, stamp))
    sub = write_submission(mevis, tmp_path / "pred", tmp_path / "m.zip", workers=1)
    assert sub.reencoded == sub.files
    for info in zipfile.ZipFile(tmp_path / "m.zip").infolist():
        src = zipfile.ZipInfo.from_file(tmp_path / "pred" / info.filename, info.filename)
        assert info.date_time == src.date_time and info.external_attr == src.external_attr
