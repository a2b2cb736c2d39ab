"""Output safety: what a command may write over, owned folders, and concurrent atomic folders."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat

import pytest
from support.folders import unwritable_folder

from reasonvos.fileio import OutputError, atomic_dir, write_text_atomic
from reasonvos.outputs import (
    MARKER,
    OutputFile,
    OutputFolder,
    check_outputs,
    claim_folder,
    owned_folder,
)

# -------------------------------------------------------------------------------- single files


def test_a_character_device_is_never_replaced(tmp_path):
    before = os.stat("/dev/null")
    with pytest.raises(OutputError, match="not a regular file"):
        write_text_atomic("/dev/null", "{}")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_a_fifo_or_a_symbolic_link_is_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    (tmp_path / "target.json").write_text("theirs")
    link.symlink_to(tmp_path / "target.json")
    with pytest.raises(OutputError, match="not a regular file"):
        check_outputs([OutputFile(fifo, "--json")])
    with pytest.raises(OutputError, match="symbolic link"):
        write_text_atomic(link, "ours")
    assert link.is_symlink() and (tmp_path / "target.json").read_text() == "theirs"


def test_atomic_files_keep_the_usual_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    write_text_atomic(tmp_path / "a" / "r.json", "{}")
    assert (tmp_path / "a" / "r.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_input_file_or_a_file_inside_an_input_folder_is_refused(tmp_path):
    root = tmp_path / "root"
    (root / "ReasonVOS").mkdir(parents=True)
    meta = root / "ReasonVOS" / "meta_expressions.json"
    meta.write_text("{}")
    alias = tmp_path / "alias.json"
    alias.symlink_to(meta)
    with pytest.raises(OutputError, match="input of this run"):
        check_outputs([OutputFile(meta, "--json")], inputs=[root])
    with pytest.raises(OutputError, match="input of this run"):
        check_outputs([OutputFile(alias, "--json")], inputs=[meta])  # the same file under another name
    check_outputs([OutputFile(root / "report.json", "--json")], inputs=[root])  # a new file beside the data


def test_two_outputs_of_one_run_may_not_share_a_path(tmp_path):
    with pytest.raises(OutputError, match="--csv and --json name the same place"):
        check_outputs([OutputFile(tmp_path / "x", "--json"), OutputFile(tmp_path / "x", "--csv")])


def test_a_file_that_reasonvos_did_not_write_is_not_replaced(tmp_path):
    paper = tmp_path / "paper.tex"
    paper.write_text("\\documentclass{article}")
    out = OutputFile(paper, "--json", "a reasonvos results file", ours=lambda p: b"reasonvos" in p.read_bytes())
    with pytest.raises(OutputError, match="is not a reasonvos results file"):
        check_outputs([out])
    paper.write_text('{"format": "reasonvos-results/1"}')
    check_outputs([out])


def test_an_unwritable_folder_is_refused_before_the_work(tmp_path):
    folder = unwritable_folder(tmp_path)
    with pytest.raises(OutputError, match="cannot write in"):
        check_outputs([OutputFile(folder / "sub" / "r.json", "--json")])


# ------------------------------------------------------------------------------ owned folders


def test_a_non_empty_folder_without_the_marker_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.pdf").write_bytes(b"%PDF")
    with pytest.raises(OutputError, match="not a reasonvos output folder"):
        check_outputs([OutputFolder(tmp_path / "mine", "--out", "leaderboard")])
    assert (tmp_path / "mine" / "thesis.pdf").read_bytes() == b"%PDF"


def test_an_owned_folder_is_refused_to_another_command(tmp_path):
    claim_folder(tmp_path / "s", "stats")
    with pytest.raises(OutputError, match="output of `reasonvos stats`"):
        check_outputs([OutputFolder(tmp_path / "s", "--out", "leaderboard")])


def test_an_output_folder_may_not_hold_an_input(tmp_path):
    (tmp_path / "board" / "results").mkdir(parents=True)
    with pytest.raises(OutputError, match="holds"):
        check_outputs([OutputFolder(tmp_path / "board", "--out", "leaderboard")], inputs=[tmp_path / "board" / "results"])


def test_owned_folder_replaces_its_own_files_removes_stale_ones_and_keeps_the_users(tmp_path):
    out = tmp_path / "board"
    with owned_folder(out, "leaderboard") as stage:
        (stage / "tables").mkdir()
        write_text_atomic(stage / "tables" / "old-benchmark.md", "old")
        write_text_atomic(stage / "index.html", "v1")
    (out / "tables" / "my-notes.md").write_text("mine")
    with owned_folder(out, "leaderboard") as stage:
        write_text_atomic(stage / "index.html", "v2")
    assert (out / "index.html").read_text() == "v2"
    assert not (out / "tables" / "old-benchmark.md").exists()
    assert (out / "tables" / "my-notes.md").read_text() == "mine"
    marker = json.loads((out / MARKER).read_text())
    assert marker["command"] == "leaderboard" and marker["files"] == ["index.html"]
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "index.html", "tables"]  # no staging left


def test_owned_folder_refuses_a_user_file_at_a_path_it_wants_and_writes_nothing(tmp_path):
    out = tmp_path / "board"
    with owned_folder(out, "leaderboard") as stage:
        write_text_atomic(stage / "index.html", "v1")
    (out / "plots").mkdir()
    (out / "plots" / "fig.png").write_text("mine")
    with pytest.raises(OutputError, match="not written by reasonvos"), owned_folder(out, "leaderboard") as stage:
        write_text_atomic(stage / "index.html", "v2")
        (stage / "plots").mkdir()
        write_text_atomic(stage / "plots" / "fig.png", "ours")
    assert (out / "index.html").read_text() == "v1" and (out / "plots" / "fig.png").read_text() == "mine"


def test_a_failed_run_changes_nothing_in_the_folder(tmp_path):
    out = tmp_path / "board"
    with owned_folder(out, "leaderboard") as stage:
        write_text_atomic(stage / "index.html", "v1")
        write_text_atomic(stage / "old.md", "v1")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(RuntimeError), owned_folder(out, "leaderboard") as stage:
        write_text_atomic(stage / "index.html", "v2")
        raise RuntimeError("analysis failed")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(RuntimeError), owned_folder(tmp_path / "new", "leaderboard"):
        raise RuntimeError("failed at once")
    assert not (tmp_path / "new").exists()


def test_folders_made_in_an_owned_folder_have_the_usual_mode(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    with owned_folder(tmp_path / "board", "leaderboard") as stage:
        (stage / "plots").mkdir()
        write_text_atomic(stage / "plots" / "a.svg", "<svg/>")
    for folder in (tmp_path / "board", tmp_path / "board" / "plots"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask


def test_a_damaged_marker_never_leads_a_removal_out_of_the_folder(tmp_path):
    out = tmp_path / "board"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (out / MARKER).write_text(json.dumps({"format": "reasonvos-output/1", "command": "leaderboard",
                                          "files": ["../victim.txt"]}))
    with pytest.raises(OutputError, match="damaged output marker"), owned_folder(out, "leaderboard"):
        pass
    assert victim.read_text() == "keep"


# ------------------------------------------------------------------------- concurrent writers


def _replace_folder_repeatedly(path: str, writer: int, rounds: int, start, errors) -> None:
    start.wait()
    try:
        for n in range(rounds):
            with atomic_dir(path) as tmp:
                for i in range(5):
                    (tmp / f"{i}.txt").write_text(f"{writer}-{n}")
    except Exception as e:  # reported to the parent: a crash of the writer is the bug
        errors.put(f"{type(e).__name__}: {e}")


def test_two_processes_replacing_the_same_folder_never_fail_mix_or_leave_debris(tmp_path):
    ctx = multiprocessing.get_context("fork")
    start, errors = ctx.Barrier(2), ctx.Queue()
    target = tmp_path / "masks"
    procs = [ctx.Process(target=_replace_folder_repeatedly, args=(str(target), w, 150, start, errors))
             for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == [] and all(p.exitcode == 0 for p in procs)
    contents = {f.read_text() for f in target.iterdir()}
    assert len(contents) == 1 and len(list(target.iterdir())) == 5, "one writer's whole folder, never a mix"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks"], "no .tmp or .old folder left"


def _fill_owned_folder_repeatedly(path: str, writer: int, rounds: int, start, errors) -> None:
    start.wait()
    try:
        for n in range(rounds):
            with owned_folder(path, "leaderboard") as stage:
                for name in ("index.html", "tables/a.md", f"only-{writer}.txt"):
                    write_text_atomic(stage / name, f"{writer}-{n}")
    except Exception as e:  # reported to the parent
        errors.put(f"{type(e).__name__}: {e}")


def test_two_processes_filling_one_owned_folder_leave_one_whole_run(tmp_path):
    ctx = multiprocessing.get_context("fork")
    start, errors = ctx.Barrier(2), ctx.Queue()
    out = tmp_path / "board"
    procs = [ctx.Process(target=_fill_owned_folder_repeatedly, args=(str(out), w, 40, start, errors)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == [] and all(p.exitcode == 0 for p in procs)
    marker = json.loads((out / MARKER).read_text())
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MARKER)
    assert files == marker["files"] and len(files) == 3, "exactly the last run's files, nothing stale"
    assert len({(out / f).read_text() for f in files}) == 1, "all from one run"
    assert not [p for p in out.iterdir() if p.name.startswith(".reasonvos-staging")]
