"""No command writes over an input, a file it did not create, or anything that is not a regular
file; output folders carry a marker; every output path is checked before the work starts."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from support.folders import unwritable_folder
from writers.predictions import perfect_reasonvos
from writers.results import results_json, write_results

from reasonvos import load_benchmark
from reasonvos.cli import main
from reasonvos.outputs import MARKER


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def rv(tmp_path):
    """A ReasonVOS fixture and a complete, perfect prediction folder."""
    return perfect_reasonvos(tmp_path)


def score_argv(bench, pred, *extra) -> list[str]:
    return ["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--quiet", "--workers", "1", *extra]


@pytest.fixture
def no_scoring(monkeypatch):
    """Fails the test if scoring starts: the outputs must be refused before any work."""
    import reasonvos.evaluators

    def refuse(*args, **kwargs):
        raise AssertionError("scoring started although an output path was bad")
    monkeypatch.setattr(reasonvos.evaluators, "score", refuse)


# ------------------------------------------------------------------------------------ leaderboard


def board_results(tmp_path: Path, *methods: str) -> list[Path]:
    return [write_results(tmp_path / "r", f"{m}.json", results_json(m, 0.5, per_sample=[], sources={}))
            for m in methods]


def test_leaderboard_keeps_the_users_files_in_its_folder(tmp_path, capsys):
    out = tmp_path / "board"
    assert main(["leaderboard", *map(str, board_results(tmp_path, "A")), "--out", str(out), "--quiet"]) == 0
    (out / "plots" / "fig.pdf").write_bytes(b"%PDF my figure")
    (out / "notes.md").write_text("mine")
    assert main(["leaderboard", *map(str, board_results(tmp_path, "A", "B")), "--out", str(out), "--quiet"]) == 0
    assert (out / "plots" / "fig.pdf").read_bytes() == b"%PDF my figure"
    assert (out / "notes.md").read_text() == "mine"
    assert "B" in (out / "index.html").read_text()


def test_leaderboard_folders_get_the_usual_mode(tmp_path):
    out = tmp_path / "board"
    assert main(["leaderboard", *map(str, board_results(tmp_path, "A")), "--out", str(out), "--quiet"]) == 0
    for folder in (out, out / "tables", out / "plots"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask(), folder


def test_leaderboard_refuses_a_non_empty_folder_it_does_not_own(tmp_path, capsys):
    out = tmp_path / "paper"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "fig.pdf").write_bytes(b"%PDF")
    assert main(["leaderboard", *map(str, board_results(tmp_path, "A")), "--out", str(out), "--quiet"]) == 1
    assert "not a reasonvos output folder" in one_line_error(capsys)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["plots", "plots/fig.pdf"]


def test_a_rebuild_removes_only_the_tables_it_wrote_before(tmp_path):
    out = tmp_path / "board"
    davis = results_json("D", 0.5, per_sample=[], sources={})
    davis.update(benchmark="davis", protocol="davis-semi", split=None)
    first = [*board_results(tmp_path, "A"), write_results(tmp_path / "d", "d.json", davis)]
    assert main(["leaderboard", *map(str, first), "--out", str(out), "--no-reported", "--quiet"]) == 0
    davis_tables = sorted((out / "tables").glob("davis*"))
    assert davis_tables
    assert main(["leaderboard", str(first[0]), "--out", str(out), "--no-reported", "--quiet"]) == 0
    assert not any(p.exists() for p in davis_tables)
    marker = json.loads((out / MARKER).read_text())
    assert marker["command"] == "leaderboard" and "index.html" in marker["files"]
    assert not any(f.startswith("tables/davis") for f in marker["files"])


def test_leaderboard_output_may_not_hold_its_input(tmp_path, capsys):
    results = board_results(tmp_path, "A")
    assert main(["leaderboard", str(tmp_path / "r"), "--out", str(tmp_path), "--quiet"]) == 1
    assert "input of this run" in one_line_error(capsys)
    assert results[0].is_file()


# ------------------------------------------------------------------------------------------ score


def test_score_never_writes_over_the_benchmark_metadata_or_a_prediction(rv, tmp_path, capsys, no_scoring):
    bench, pred = rv
    meta = bench.root / "ReasonVOS" / "meta_expressions.json"
    meta = meta if meta.is_file() else next(bench.root.rglob("meta_expressions.json"))
    png = next(pred.rglob("*.png"))
    for flag, target in (("--json", meta), ("--csv", meta), ("--json", png)):
        before = target.read_bytes()
        assert main(score_argv(bench, pred, flag, str(target))) == 1
        assert "input of this run" in one_line_error(capsys)
        assert target.read_bytes() == before


def test_score_refuses_the_same_file_for_json_and_csv(rv, tmp_path, capsys, no_scoring):
    bench, pred = rv
    out = tmp_path / "r.out"
    assert main(score_argv(bench, pred, "--json", str(out), "--csv", str(out))) == 1
    assert "name the same place" in one_line_error(capsys)
    assert not out.exists()


def test_score_never_replaces_a_device_or_a_fifo(rv, tmp_path, capsys, no_scoring):
    bench, pred = rv
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    targets = [fifo]
    if os.geteuid() == 0:  # a character device of our own, like /dev/null (which root could destroy)
        device = tmp_path / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets.append(device)
    for target in targets:
        kind = stat.S_IFMT(os.lstat(target).st_mode)
        assert main(score_argv(bench, pred, "--json", str(target))) == 1
        assert "not a regular file" in one_line_error(capsys)
        assert stat.S_IFMT(os.lstat(target).st_mode) == kind


def test_score_refuses_a_file_it_did_not_write(rv, tmp_path, capsys, no_scoring):
    bench, pred = rv
    notes = tmp_path / "notes.csv"
    notes.write_text("my,own,table\n")
    assert main(score_argv(bench, pred, "--csv", str(notes))) == 1
    assert "not a reasonvos per-sample CSV" in one_line_error(capsys)
    assert notes.read_text() == "my,own,table\n"


def test_score_into_an_unwritable_folder_fails_before_scoring(rv, tmp_path, capsys, no_scoring):
    bench, pred = rv
    folder = unwritable_folder(tmp_path)
    assert main(score_argv(bench, pred, "--json", str(folder / "r.json"))) == 1
    assert "cannot write in" in one_line_error(capsys)


def test_score_replaces_its_own_earlier_outputs(rv, tmp_path):
    bench, pred = rv
    out, table = tmp_path / "r.json", tmp_path / "r.csv"
    for _ in range(2):
        assert main(score_argv(bench, pred, "--json", str(out), "--csv", str(table))) == 0
    assert json.loads(out.read_text())["format"].startswith("reasonvos-results/")


# --------------------------------------------------------------------------------------- validate


def test_validate_json_into_a_folder_or_over_the_metadata_is_one_line(rv, tmp_path, capsys):
    bench, _ = rv
    meta = next(bench.root.rglob("meta_expressions.json"))
    before = meta.read_bytes()
    assert main(["validate", "reasonvos", "--root", str(bench.root), "--json", str(tmp_path)]) == 1
    assert "names a folder" in one_line_error(capsys)
    assert main(["validate", "reasonvos", "--root", str(bench.root), "--json", str(meta)]) == 1
    assert "input of this run" in one_line_error(capsys)
    assert meta.read_bytes() == before


# ------------------------------------------------------------------------------- stats, import, demo


def test_stats_folder_is_owned_and_a_rerun_drops_figures_it_no_longer_draws(rv, tmp_path, capsys):
    bench, _ = rv
    out = tmp_path / "stats"
    assert main(["stats", "reasonvos", "--root", str(bench.root), "--out", str(out), "--quiet"]) == 0
    assert (out / "mask_area.png").is_file()
    (out / "README.txt").write_text("mine")
    assert main(["stats", "reasonvos", "--root", str(bench.root), "--out", str(out), "--quiet", "--no-masks"]) == 0
    assert not (out / "mask_area.png").exists() and (out / "README.txt").read_text() == "mine"
    assert json.loads((out / MARKER).read_text())["command"] == "stats"


def test_stats_refuses_a_folder_of_the_users(rv, tmp_path, capsys):
    bench, _ = rv
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "stats.json").write_text("my numbers")
    assert main(["stats", "reasonvos", "--root", str(bench.root), "--out", str(tmp_path / "mine"), "--quiet"]) == 1
    assert "not a reasonvos output folder" in one_line_error(capsys)
    assert (tmp_path / "mine" / "stats.json").read_text() == "my numbers"


def test_import_never_writes_over_the_benchmark_metadata(rv, tmp_path, capsys, no_scoring):
    bench, pred = rv
    meta = next(bench.root.rglob("meta_expressions.json"))
    before = meta.read_bytes()
    assert main(["import", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--method", "X",
                 "--source", "https://example.org", "--out", str(meta), "--quiet"]) == 1
    assert "input of this run" in one_line_error(capsys)
    assert meta.read_bytes() == before


def test_demo_refuses_a_folder_of_the_users(tmp_path, capsys):
    (tmp_path / "thesis.tex").write_text("mine")
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 1
    assert "not a reasonvos output folder" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


# ----------------------------------------------------------------------------------------- submit


def test_submit_replaces_its_own_zip_but_not_another(tmp_path, capsys):
    from writers.predictions import write_predictions
    from writers.refytvos import write_refytvos

    fx = write_refytvos(tmp_path / "data", with_train=False)
    bench = load_benchmark("refytvos", fx.root, "valid")
    write_predictions(bench, tmp_path / "pred")
    argv = ["submit", "refytvos", "--root", str(fx.root), "--split", "valid", "--pred", str(tmp_path / "pred"),
            "--workers", "1", "--quiet", "--out"]
    out = tmp_path / "sub.zip"
    assert main([*argv, str(out)]) == 0
    assert main([*argv, str(out)]) == 0  # its own zip of an earlier run
    other = tmp_path / "backup.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("thesis.tex", "mine")
    assert main([*argv, str(other)]) == 1
    assert "not a submission zip written by reasonvos" in one_line_error(capsys)
    with zipfile.ZipFile(other) as zf:
        assert zf.namelist() == ["thesis.tex"]


@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_score_output_that_is_a_folder_is_refused_before_scoring(rv, tmp_path, capsys, flag):
    bench, pred = rv
    folder = tmp_path / "taken"
    folder.mkdir()
    other = "--csv" if flag == "--json" else "--json"
    other_path = tmp_path / "other.out"
    rc = main(["score", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--quiet", "--workers", "1",
               flag, str(folder), other, str(other_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert str(folder) in err and "folder" in err
    assert not other_path.exists()  # nothing half-written: neither output exists


def test_import_out_that_is_a_folder_is_refused(rv, tmp_path, capsys):
    bench, pred = rv
    (tmp_path / "res.json").mkdir()
    rc = main(["import", "reasonvos", "--root", str(bench.root), "--pred", str(pred), "--method", "X",
               "--source", "https://example.org", "--out", str(tmp_path / "res.json"), "--quiet", "--workers", "1"])
    assert rc == 1 and str(tmp_path / "res.json") in capsys.readouterr().err
