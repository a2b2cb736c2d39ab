"""The validator: a clean copy passes; each way of breaking a copy is reported with its kind.

Errors (cannot be scored as is) make the verdict BROKEN and the exit status 1; warnings (a
subset, a known quirk of the release) keep it OK.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from writers.mevis import write_mevis
from writers.reasonvos import write_reasonvos, write_reasonvos_original_schema
from writers.refdavis import write_refdavis_raw
from writers.refytvos import write_refytvos

import reasonvos.benchmarks.mevis as mevis_module
import reasonvos.validation as validate_module
from reasonvos.cli import main
from reasonvos.errors import InputError
from reasonvos.validation import validate


@pytest.fixture
def rv(tmp_path: Path) -> Path:
    """A clean ReasonVOS copy: videos named with '_', zero-padded VIPSeg ids, BURST frame names."""
    return write_reasonvos(tmp_path)


def meta_of(base: Path) -> dict:
    return json.loads((base / "meta_expressions.json").read_text())


def save_meta(base: Path, meta: dict) -> None:
    (base / "meta_expressions.json").write_text(json.dumps(meta))


def mask_dir(base: Path) -> Path:
    return base / "Annotations" / "mevis_a1b2c3_d4_0"


def errors_of(report) -> set[str]:
    return {p.kind for p in report.errors}


def warnings_of(report) -> set[str]:
    return {p.kind for p in report.warnings}


def test_clean_reasonvos_copy_is_ok_with_a_counts_warning(rv: Path):
    report = validate("reasonvos", rv.parent)
    assert report.ok, report.format()
    assert errors_of(report) == set()
    # the fixture is a 3-video subset of the 91-video release: legal, but said
    assert warnings_of(report) == {"counts"}
    assert report.facts["videos"] == 3 and report.facts["expressions"] == 6 and report.facts["objects"] == 4
    assert report.format().splitlines()[-1] == f"VERDICT: OK (0 errors, {len(report.warnings)} warnings)"


def test_missing_frame_is_an_error(rv: Path):
    (rv / "JPEGImages/a1b2c3_d4/00002.jpg").unlink()
    report = validate("reasonvos", rv)
    assert "missing-frame" in errors_of(report)
    assert "VERDICT: BROKEN" in report.format()


def test_undecodable_mask_is_an_error(rv: Path):
    (mask_dir(rv) / "00001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert "undecodable-mask" in errors_of(validate("reasonvos", rv))


def test_mask_of_the_wrong_size_is_an_error(rv: Path):
    Image.fromarray(np.zeros((5, 5), np.uint8), "L").save(mask_dir(rv) / "00001.png")
    report = validate("reasonvos", rv)
    [p] = [p for p in report.errors if p.kind == "mask-size"]
    assert "00001.png" in p.where and "5x5" in p.message and "24x32" in p.message


def test_mask_without_a_listed_frame_is_an_error(rv: Path):
    shutil.copy(mask_dir(rv) / "00000.png", mask_dir(rv) / "00000000.png")  # VIPSeg-style name in a MOSE video
    assert "mask-without-frame" in errors_of(validate("reasonvos", rv))


def test_dangling_object_reference_is_an_error(rv: Path):
    meta = meta_of(rv)
    meta["videos"]["a1b2c3_d4"]["expressions"][0]["obj_id"] = "7"
    save_meta(rv, meta)
    report = validate("reasonvos", rv)
    assert "dangling-reference" in errors_of(report)
    assert "unreferenced-mask-folder" in warnings_of(report)  # object 0's folder is now orphaned


def test_repeated_exp_id_is_a_warning(rv: Path):
    meta = meta_of(rv)
    exps = meta["videos"]["a1b2c3_d4"]["expressions"]
    exps.append(dict(exps[0], exp_text="the same cat again"))
    save_meta(rv, meta)
    report = validate("reasonvos", rv)
    assert report.ok and "repeated-exp-id" in warnings_of(report)


def test_duplicate_frame_is_an_error(rv: Path):
    meta = meta_of(rv)
    meta["videos"]["a1b2c3_d4"]["frames"].append("00000")
    save_meta(rv, meta)
    assert "duplicate-id" in errors_of(validate("reasonvos", rv))


def test_original_schema_is_named(tmp_path: Path):
    base = write_reasonvos_original_schema(tmp_path)
    report = validate("reasonvos", base)
    [p] = report.errors
    assert p.kind == "schema-version" and "ORIGINAL" in p.message and "1QMggGR91AE" in p.message


def test_stray_files_rgb_masks_and_odd_values_are_warnings(rv: Path):
    (mask_dir(rv) / "Thumbs.db").write_bytes(b"x")
    m = np.asarray(Image.open(mask_dir(rv) / "00001.png")) > 0
    rgb = np.zeros((*m.shape, 3), np.uint8)
    rgb[m] = (236, 95, 103)
    Image.fromarray(rgb, "RGB").save(mask_dir(rv) / "00001.png")
    Image.fromarray(np.where(m, 38, 0).astype(np.uint8), "L").save(mask_dir(rv) / "00002.png")
    report = validate("reasonvos", rv)
    assert report.ok
    assert {"stray-file", "rgb-mask", "mask-values"} <= warnings_of(report)


def test_empty_ground_truth_is_fine(rv: Path):
    Image.fromarray(np.zeros((24, 32), np.uint8), "L").save(mask_dir(rv) / "00001.png")
    Image.fromarray(np.zeros((24, 32), np.uint8), "L").save(mask_dir(rv) / "00002.png")
    assert validate("reasonvos", rv).ok


def test_deep_decodes_frames(rv: Path):
    (rv / "JPEGImages/a1b2c3_d4/00001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    assert validate("reasonvos", rv).ok  # without --deep only presence is checked
    assert "undecodable-frame" in errors_of(validate("reasonvos", rv, deep=True))


def test_missing_and_malformed_metadata(tmp_path: Path, rv: Path):
    assert errors_of(validate("reasonvos", tmp_path / "nothing")) == {"structure"}
    (rv / "meta_expressions.json").write_text("{not json")
    report = validate("reasonvos", rv)
    assert errors_of(report) == {"metadata"} and "not valid JSON" in report.errors[0].message


def test_process_pool_finds_the_same_problems(rv: Path, monkeypatch):
    (mask_dir(rv) / "00001.png").write_bytes(b"garbage")
    monkeypatch.setattr(validate_module, "_POOL_MIN_TASKS", 1)
    report = validate("reasonvos", rv, workers=2)
    assert [p.kind for p in report.errors] == ["undecodable-mask"]


def test_report_groups_by_kind_and_shows_the_first_examples(rv: Path):
    for p in sorted((rv / "JPEGImages").rglob("*.jpg")):
        p.unlink()
    text = validate("reasonvos", rv).format(examples=2)
    assert "[missing-frame] x10" in text and "... and 8 more" in text
    assert text.splitlines()[-1].startswith("VERDICT: BROKEN (10 errors")


def test_validate_command_exit_status_and_json(rv: Path, tmp_path: Path, capsys):
    out = tmp_path / "report.json"
    assert main(["validate", "reasonvos", "--root", str(rv.parent), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["ok"] is True and data["verdict"].startswith("VERDICT: OK")
    (mask_dir(rv) / "00001.png").write_bytes(b"garbage")
    assert main(["validate", "reasonvos", "--root", str(rv.parent), "--json", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["counts"]["errors"] == {"undecodable-mask": 1}
    assert "VERDICT: BROKEN" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ MeViS


def test_clean_mevis_copy_is_ok(tmp_path: Path):
    fx = write_mevis(tmp_path, "valid_u", versions=("v1",))
    report = validate("mevis", fx.root)
    assert report.ok, report.format()
    assert report.facts["valid_u"]["version"] == "v1"


def test_mevis_missing_mask_dict_is_reported_not_raised(tmp_path: Path):
    fx = write_mevis(tmp_path, "valid_u")
    (fx.root / "valid_u/mask_dict.json").unlink()
    report = validate("mevis", fx.root)
    assert errors_of(report) == {"loader"} and "mask_dict.json" in report.errors[0].where


def test_mevis_corrupt_rle_is_an_error(tmp_path: Path):
    fx = write_mevis(tmp_path, "valid_u")
    path = fx.root / "valid_u/mask_dict.json"
    md = json.loads(path.read_text())
    key = next(iter(md))
    md[key][0] = {"size": [3, 3], "counts": "xx"}
    path.write_text(json.dumps(md))
    report = validate("mevis", fx.root)
    assert not report.ok and errors_of(report) & {"mask", "mask-size", "loader"}


def test_mevis_missing_frame_is_an_error(tmp_path: Path):
    fx = write_mevis(tmp_path, "valid_u")
    next((fx.root / "valid_u/JPEGImages").rglob("*.jpg")).unlink()
    assert not validate("mevis", fx.root).ok


def test_mevis_version_counts_are_named(tmp_path: Path, monkeypatch):
    """A v2 file holding the v1 number of expressions is flagged (793 vs 907 on the real data)."""
    fx = write_mevis(tmp_path, "valid_u", versions=("v2",))
    n = validate("mevis", fx.root).facts["valid_u"]["expressions"]
    real = mevis_module.published_counts

    def fake_counts(name, split=None, version=None):
        if name == "mevis" and version == "v1" and split == "valid_u":
            return {"videos": 2, "expressions": n}
        return real(name, split, version)

    monkeypatch.setattr(mevis_module, "published_counts", fake_counts)  # MeViS's checks live in its module
    report = validate("mevis", fx.root)
    assert any(p.kind == "version" and "MeViS v1 count" in p.message for p in report.warnings)


# ----------------------------------------------------------------------- Ref-YTVOS, Ref-DAVIS


def test_refytvos_copy_reports_the_507_vs_202_split(tmp_path: Path):
    fx = write_refytvos(tmp_path)
    report = validate("refytvos", fx.root if hasattr(fx, "root") else tmp_path / "ref-youtube-vos")
    assert report.ok, report.format()
    assert "test videos excluded" in report.facts["valid meta"]
    assert "counts" in warnings_of(report)


def test_refytvos_missing_annotation_is_an_error(tmp_path: Path):
    write_refytvos(tmp_path)
    base = tmp_path / "ref-youtube-vos"
    next((base / "train/Annotations").rglob("*.png")).unlink()
    report = validate("refytvos", base)
    assert not report.ok


def test_refdavis_raw_copy_is_ok_and_broken_text_file_is_reported(tmp_path: Path):
    write_refdavis_raw(tmp_path)
    assert validate("refdavis", tmp_path).ok, validate("refdavis", tmp_path).format()
    (tmp_path / "davis_text_annotations/Davis17_annot1.txt").write_text("garbage line\n")
    report = validate("refdavis", tmp_path)
    assert errors_of(report) == {"loader"}


def test_refytvos_rgb_annotation_and_stray_file_are_reported(tmp_path: Path):
    write_refytvos(tmp_path)
    base = tmp_path / "ref-youtube-vos"
    png = next((base / "train/Annotations").rglob("*.png"))
    Image.open(png).convert("RGB").save(png)  # what cv2.imwrite or an image editor does
    (png.parent / "notes.txt").write_text("x")
    report = validate("refytvos", base, "train")
    assert "rgb-mask" in errors_of(report) and "stray-file" in warnings_of(report)


def test_refytvos_train_expression_without_obj_id_is_reported(tmp_path: Path):
    write_refytvos(tmp_path)
    base = tmp_path / "ref-youtube-vos"
    path = base / "meta_expressions/train/meta_expressions.json"
    meta = json.loads(path.read_text())
    first = next(iter(meta["videos"].values()))
    next(iter(first["expressions"].values())).pop("obj_id")
    path.write_text(json.dumps(meta))
    report = validate("refytvos", base)
    [p] = report.errors
    assert p.kind == "loader" and "obj_id" in p.message and "(split train)" in p.message
    assert "valid" in report.facts  # the valid split is still checked


def test_reasonvos_rejects_an_unknown_split(rv: Path):
    assert errors_of(validate("reasonvos", rv, "train")) == {"structure"}


def test_duplicate_video_key_in_the_json_is_an_error(rv: Path):
    meta = meta_of(rv)
    first = json.dumps({"a1b2c3_d4": meta["videos"]["a1b2c3_d4"]})[1:-1]
    body = ", ".join([first] + [json.dumps({k: v})[1:-1] for k, v in meta["videos"].items()])
    (rv / "meta_expressions.json").write_text('{"videos": {' + body + "}}")
    report = validate("reasonvos", rv)
    assert any(p.kind == "duplicate-id" and "a1b2c3_d4" in p.message for p in report.errors)


# --------------------------------------------------------- one parser: loader and validator agree


def _with_a_duplicate_video_key(rv: Path) -> None:
    """The first video again at the end of the 'videos' object: json.load would keep the last silently."""
    meta = meta_of(rv)
    body = ", ".join(json.dumps({k: v})[1:-1] for k, v in meta["videos"].items())
    again = json.dumps({"a1b2c3_d4": meta["videos"]["a1b2c3_d4"]})[1:-1]
    (rv / "meta_expressions.json").write_text('{"videos": {' + body + ", " + again + "}}")


def test_a_duplicate_video_key_is_refused_by_the_loader_and_reported_by_validate(rv: Path):
    from reasonvos import load_benchmark
    from reasonvos.errors import MetadataError

    _with_a_duplicate_video_key(rv)
    with pytest.raises(MetadataError, match="duplicate key 'a1b2c3_d4'") as err:
        load_benchmark("reasonvos", rv)
    assert err.value.path == rv / "meta_expressions.json"
    [p] = [p for p in validate("reasonvos", rv).errors if p.kind == "duplicate-id"]
    assert p.where == str(rv / "meta_expressions.json") and "'a1b2c3_d4'" in p.message


def test_a_duplicate_anno_id_in_the_mask_dict_is_an_error(tmp_path: Path):
    """json.load kept the last RLE list of a repeated anno_id, so scores changed and validate said OK."""
    fx = write_mevis(tmp_path, "valid_u")
    path = fx.root / "valid_u/mask_dict.json"
    md = json.loads(path.read_text())
    body = ", ".join(json.dumps({k: v})[1:-1] for k, v in md.items())
    path.write_text("{" + body + ", " + json.dumps({"101": md["102"]})[1:-1] + "}")
    report = validate("mevis", fx.root)
    assert not report.ok
    assert any(p.where == str(path) and "duplicate key '101'" in p.message for p in report.errors), report.format()


def test_is_sent_is_required_by_validate_as_by_the_loader(rv: Path):
    meta = meta_of(rv)
    meta["videos"]["a1b2c3_d4"]["expressions"][0].pop("is_sent")
    save_meta(rv, meta)
    assert any("has no 'is_sent'" in p.message for p in validate("reasonvos", rv).errors)


def test_is_sent_errors_are_reported_beside_other_errors(rv: Path):
    """The old validator ran the loader (the only is_sent check) only on a copy without errors."""
    (rv / "JPEGImages/a1b2c3_d4/00002.jpg").unlink()
    meta = meta_of(rv)
    exps = meta["videos"]["127_-hIVCYO4C90"]["expressions"]
    exps[0]["is_sent"] = "yes"
    exps[1]["exp_text"] = 5
    exps[1]["is_sent"] = None
    save_meta(rv, meta)
    messages = [p.message for p in validate("reasonvos", rv).errors]
    assert any("missing" in m or "not on disk" in m for m in messages)
    assert sum("needs 'is_sent' true or false" in m for m in messages) == 2
    assert any("'exp_text' 5, which is not a string" in m for m in messages), messages


# ------------------------------------------------------------------------ frames vs JPEG folders


def test_a_jpeg_the_metadata_does_not_list_is_named(rv: Path):
    """The official inference scripts read sorted(glob(<video>/*.jpg)), so they would read it."""
    extra = rv / "JPEGImages/a1b2c3_d4/00004.jpg"
    shutil.copy(rv / "JPEGImages/a1b2c3_d4/00000.jpg", extra)
    report = validate("reasonvos", rv)
    assert report.ok
    [p] = [p for p in report.warnings if p.kind == "unlisted-frame"]
    assert p.where == str(extra)


def test_frames_listed_in_another_order_than_the_sorted_files_are_named(rv: Path):
    meta = meta_of(rv)
    frames = meta["videos"]["a1b2c3_d4"]["frames"]
    frames[1], frames[2] = frames[2], frames[1]
    save_meta(rv, meta)
    [p] = [p for p in validate("reasonvos", rv).warnings if p.kind == "frame-order"]
    assert p.where == str(rv / "JPEGImages/a1b2c3_d4") and "'00002.jpg' at position 1" in p.message


def test_a_jpeg_folder_of_a_video_not_in_the_metadata_is_named(rv: Path):
    shutil.copytree(rv / "JPEGImages/a1b2c3_d4", rv / "JPEGImages/zz_not_listed")
    [p] = [p for p in validate("reasonvos", rv).warnings if p.kind == "unlisted-video"]
    assert p.where == str(rv / "JPEGImages/zz_not_listed")


def test_a_listed_frame_that_is_a_broken_link_is_not_called_missing(rv: Path):
    frame = rv / "JPEGImages/a1b2c3_d4/00001.jpg"
    frame.unlink()
    frame.symlink_to(rv / "nowhere.jpg")
    [p] = validate("reasonvos", rv).errors
    assert p.kind == "broken-link" and p.where == str(frame) and "broken symbolic link" in p.message


# --------------------------------------------------------------------------------- GT sequences


def test_a_hole_in_a_gt_sequence_is_a_warning(rv: Path):
    """A lost GT PNG silently removes that frame from the score; sparse GT is legal, so a warning."""
    hole = mask_dir(rv) / "00002.png"
    hole.unlink()
    report = validate("reasonvos", rv)
    assert report.ok
    [p] = [p for p in report.warnings if p.kind == "gt-hole"]
    assert p.where == str(hole) and "'00001' and '00003'" in p.message


def test_regularly_sparse_gt_has_no_hole(rv: Path):
    (mask_dir(rv) / "00001.png").unlink()
    (mask_dir(rv) / "00003.png").unlink()
    assert "gt-hole" not in warnings_of(validate("reasonvos", rv))


def test_a_mask_of_the_wrong_size_whose_jpeg_is_missing_is_an_error(rv: Path):
    (rv / "JPEGImages/a1b2c3_d4/00001.jpg").unlink()
    Image.fromarray(np.zeros((5, 5), np.uint8), "L").save(mask_dir(rv) / "00001.png")
    report = validate("reasonvos", rv)
    [p] = [p for p in report.errors if p.kind == "mask-size"]
    assert p.where == str(mask_dir(rv) / "00001.png") and "5x5" in p.message and "24x32" in p.message


def test_an_unreadable_gt_folder_is_not_an_empty_one(rv: Path, monkeypatch):
    from reasonvos import load_benchmark

    bench = load_benchmark("reasonvos", rv)
    folder = mask_dir(rv)
    real = os.listdir

    def listdir(path="."):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    with pytest.raises(InputError, match="cannot list the ground-truth mask folder") as err:
        bench.scored_frames(bench.samples[0])
    assert "no PNG" not in str(err.value)


# ---------------------------------------------------------------------------------- --strict


def test_strict_turns_warnings_into_a_failure(rv: Path, capsys):
    """The fixture is a subset of the release: counts warnings, OK, exit 0; with --strict exit 1."""
    assert main(["validate", "reasonvos", "--root", str(rv)]) == 0
    assert main(["validate", "reasonvos", "--root", str(rv), "--strict"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("VERDICT: BROKEN (0 errors,") and "strict" in last
    assert validate("reasonvos", rv, strict=True).to_dict()["ok"] is False


@pytest.mark.parametrize("name", ["reasonvos", "mevis", "refytvos", "refdavis"])
def test_validate_on_a_file_says_it_is_not_a_folder(tmp_path: Path, name: str):
    root = tmp_path / "data.zip"
    root.write_bytes(b"PK")
    report = validate(name, root)
    assert not report.ok
    assert [(p.kind, p.where) for p in report.errors] == [("structure", str(root))]
    assert "not a folder" in report.errors[0].message


@pytest.mark.parametrize("name", ["reasonvos", "mevis", "refytvos", "refdavis"])
def test_validate_on_an_empty_folder_is_broken_with_one_structure_error(tmp_path: Path, name: str):
    report = validate(name, tmp_path)
    assert not report.ok and len(report.errors) == 1
    assert report.verdict().startswith("VERDICT: BROKEN (1 errors")


@pytest.mark.parametrize("benchmark", ["refytvos", "revos"])
def test_a_fifo_where_the_expression_file_belongs_is_named_not_taken_for_a_missing_split(tmp_path, benchmark):
    """The split is present (something is at its path), so the report names that file and what it
    is, instead of saying that no split of the benchmark is here."""
    from reasonvos.benchmarks import registry
    from reasonvos.benchmarks.revos import meta_name

    if benchmark == "refytvos":
        meta = tmp_path / "ref-youtube-vos" / "meta_expressions" / "valid" / "meta_expressions.json"
    else:
        meta = tmp_path / "ReVOS" / meta_name("valid")
    meta.parent.mkdir(parents=True)
    os.mkfifo(meta)
    assert registry.get(benchmark).present_splits(tmp_path) == ["valid"]
    report = validate(benchmark, tmp_path)
    [problem] = report.errors
    assert problem.kind == "metadata" and "FIFO" in problem.message and str(meta) in problem.path
