"""The real `reasonvos download` command against an HTTP server on 127.0.0.1, reached through
`--mirror` (or `$REASONVOS_MIRROR`), which swaps the scheme and host of every plain HTTP source
and keeps its path. Every failure is one line on stderr naming the file, exit status 1, and the
benchmark root is left as it was."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http_server import Behaviour, FileServer
from writers.archives import write_zip
from writers.refdavis import write_refdavis_raw

from reasonvos.acquire.download import check_mirror, mirror_url
from reasonvos.acquire.extract import MARKER
from reasonvos.cli import main
from reasonvos.errors import InputError

UNSUPERVISED = "/csergi/share/davis/DAVIS-2017-Unsupervised-trainval-480p.zip"
SEMANTICS = "/csergi/share/davis/DAVIS-2017_semantics-480p.zip"
TEXT = "/fileadmin/inf/d2/khoreva/davis_text_annotations.zip"  # the first of its two URLs


@pytest.fixture
def server() -> Iterator[FileServer]:
    s = FileServer()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_mirror_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("REASONVOS_MIRROR", raising=False)


def serve_refdavis(server: FileServer, tmp_path: Path, prefix: str = "") -> dict[str, bytes]:
    """The three Ref-DAVIS archives, made from a small copy, at their original paths."""
    src = tmp_path / "src"
    write_refdavis_raw(src)

    def zipped(folder: str, keep) -> bytes:
        files = {p.relative_to(src).as_posix(): p.read_bytes() for p in (src / folder).rglob("*")
                 if p.is_file() and keep(p)}
        return write_zip(tmp_path / f"{folder}.zip", files).read_bytes()

    served = {
        UNSUPERVISED: zipped("DAVIS", lambda p: p.name != "davis_semantics.json"),
        SEMANTICS: zipped("DAVIS", lambda p: p.name == "davis_semantics.json"),
        TEXT: zipped("davis_text_annotations", lambda p: True),
    }
    for path, data in served.items():
        server.files[prefix + path] = data
    return served


def download(root: Path, *extra: str) -> list[str]:
    return ["download", "refdavis", "--root", str(root), "--accept-licence", "--quiet", *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reasonvos: error: "), err
    return lines[0]


def installed(root: Path) -> set[str]:
    """What the download put into the root, apart from its download cache."""
    return {p.name for p in root.iterdir() if p.name != "downloads"} if root.exists() else set()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------------------------ mirror


def test_a_mirror_replaces_scheme_and_host_and_keeps_the_path():
    url = "https://data.vision.ee.ethz.ch/csergi/share/davis/x.zip?dl=1"
    assert mirror_url(url, "http://127.0.0.1:8000") == "http://127.0.0.1:8000/csergi/share/davis/x.zip?dl=1"
    assert mirror_url(url, check_mirror("http://m.example/pub/")) == "http://m.example/pub/csergi/share/davis/x.zip?dl=1"
    for bad in ("ftp://m.example", "m.example/pub", "http://m.example/?q=1", "http://"):
        with pytest.raises(InputError, match="not a mirror URL"):
            check_mirror(bad)


def test_download_from_a_mirror_installs_the_benchmark_and_validates_it(server: FileServer, tmp_path: Path, capsys):
    serve_refdavis(server, tmp_path, prefix="/pub")
    root = tmp_path / "root"
    assert main(download(root, "--mirror", server.url + "/pub")) == 0
    out = capsys.readouterr().out
    assert "VERDICT: OK" in out and f"mirror {server.url}/pub" in out
    assert {r[1] for r in server.requests} == {"/pub" + p for p in (UNSUPERVISED, SEMANTICS, TEXT)}
    assert (root / "DAVIS" / MARKER).is_file() and (root / "davis_text_annotations/Davis17_annot1.txt").is_file()
    n = len(server.requests)
    assert main(download(root, "--mirror", server.url + "/pub")) == 0  # a second run asks for nothing
    assert len(server.requests) == n


def test_the_mirror_environment_variable_is_used_and_the_flag_wins(server: FileServer, tmp_path: Path,
                                                                   monkeypatch, capsys):
    serve_refdavis(server, tmp_path)
    monkeypatch.setenv("REASONVOS_MIRROR", server.url)
    assert main(download(tmp_path / "a")) == 0
    monkeypatch.setenv("REASONVOS_MIRROR", closed_port_url())
    assert main(download(tmp_path / "b", "--mirror", server.url)) == 0
    assert "VERDICT: OK" in capsys.readouterr().out
    monkeypatch.setenv("REASONVOS_MIRROR", "data.example.org")
    assert main(download(tmp_path / "c")) == 1
    assert "REASONVOS_MIRROR 'data.example.org' is not a mirror URL" in one_error_line(capsys)


# ------------------------------------------------------------------------ resume, checksums


def test_a_cut_download_fails_in_one_line_and_the_next_run_resumes_it(server: FileServer, tmp_path: Path, capsys):
    served = serve_refdavis(server, tmp_path)
    server.behaviour[TEXT] = Behaviour(cut_after=1000, cut_times=1)
    server.files.pop("/fileadmin/inf/d2/Research/OneVOS/davis_text_annotations.zip", None)
    root = tmp_path / "root"
    assert main(download(root, "--mirror", server.url, "--attempts", "1")) == 1
    line = one_error_line(capsys)
    assert "davis_text_annotations.zip" in line and "cut short at 1000" in line
    assert installed(root) == set()  # the two archives that did arrive were not half-installed
    assert main(download(root, "--mirror", server.url)) == 0
    assert (TEXT, "bytes=1000-") in [(r[1], r[2]) for r in server.requests]
    assert (root / "downloads/davis_text_annotations.zip").read_bytes() == served[TEXT]
    assert "VERDICT: OK" in capsys.readouterr().out


def test_a_wrong_checksum_is_one_line_and_installs_nothing(server: FileServer, tmp_path: Path, capsys, monkeypatch):
    """Were a sha256 published for the semantics zip, a file that does not match is kept aside."""
    import reasonvos.acquire.download as dl

    real = dl.get_source

    def with_published_sha(name: str):
        source = real(name)
        variant = source.variant()
        files = tuple(dataclasses.replace(f, sha256="0" * 64) if f.name.endswith("semantics-480p.zip") else f
                      for f in variant.files)
        return dataclasses.replace(source, variants={variant.name: dataclasses.replace(variant, files=files)})

    monkeypatch.setattr(dl, "get_source", with_published_sha)
    serve_refdavis(server, tmp_path)
    root = tmp_path / "root"
    assert main(download(root, "--mirror", server.url)) == 1
    line = one_error_line(capsys)
    assert "DAVIS-2017_semantics-480p.zip" in line and "expected the published 0000" in line
    assert installed(root) == set()
    assert (root / "downloads/DAVIS-2017_semantics-480p.zip.corrupt").is_file()


def test_a_mevis_v1_member_checksum_failure_is_one_line_and_installs_nothing(tmp_path: Path, capsys):
    archive = write_zip(tmp_path / "MeViS_release.zip", {
        "MeViS_release/valid_u/mask_dict.json": b"{}",
        "MeViS_release/valid_u/meta_expressions.json": b'{"videos": {}}',
    })
    root = tmp_path / "root"
    code = main(["download", "mevis", "--root", str(root), "--archive", str(archive), "--accept-licence", "--quiet"])
    assert code == 1
    assert "valid_u/mask_dict.json: sha256 is" in one_error_line(capsys)
    assert installed(root) == set()


def test_a_failed_second_archive_leaves_the_first_uninstalled(tmp_path: Path, capsys):
    good = write_zip(tmp_path / "MeViS_valid.zip", {
        "MeViS_release/valid/meta_expressions.json": b'{"videos": {}}',
        "MeViS_release/valid/JPEGImages/v/00000.jpg": b"jpeg",
    })
    bad = tmp_path / "MeViS_train.zip"
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("MeViS_release/train/JPEGImages/v/00000.jpg", b"J" * 5000)
    data = bytearray(bad.read_bytes())
    data[200:210] = b"X" * 10  # inside the stored member: its CRC no longer matches
    bad.write_bytes(bytes(data))
    root = tmp_path / "root"
    code = main(["download", "mevis", "--root", str(root), "--archive", str(good), "--archive", str(bad),
                 "--accept-licence", "--quiet"])
    assert code == 1
    assert "MeViS_train.zip: archive is corrupt or truncated" in one_error_line(capsys)
    assert installed(root) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MeViS_train.zip", "MeViS_valid.zip"]  # no staging left


# ------------------------------------------------------------------------ links and faults


def test_a_symlink_inside_the_target_is_refused_in_one_line(server: FileServer, tmp_path: Path, capsys):
    serve_refdavis(server, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "root"
    (root / "DAVIS").mkdir(parents=True)
    (root / "DAVIS/JPEGImages").symlink_to(elsewhere, target_is_directory=True)
    assert main(download(root, "--mirror", server.url)) == 1
    line = one_error_line(capsys)
    assert "DAVIS/JPEGImages: is a symbolic link" in line and str(elsewhere) in line
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in (root / "DAVIS").iterdir()) == ["JPEGImages"]
    assert not (root / "davis_text_annotations").exists()


@pytest.mark.parametrize("fault", ["connection refused", "not found", "root is a file", "bad mirror"])
def test_every_failure_is_one_line_naming_the_file(server: FileServer, tmp_path: Path, capsys, fault: str):
    root = tmp_path / "root"
    mirror = server.url
    expect = "DAVIS-2017-Unsupervised-trainval-480p.zip"
    if fault == "connection refused":
        mirror = closed_port_url()
        expect += r".*cannot reach 127\.0\.0\.1:\d+ \(Connection refused\)"
    elif fault == "not found":
        expect += ".*HTTP 404"
    elif fault == "root is a file":
        root.write_text("not a folder")
        expect = "root/downloads: cannot write the download: Not a directory"
    else:
        mirror = "127.0.0.1:80"
        expect = "--mirror '127.0.0.1:80' is not a mirror URL"
    assert main(download(root, "--mirror", mirror, "--attempts", "1")) == 1
    import re

    assert re.search(expect, one_error_line(capsys))


def test_the_command_run_as_a_process_prints_one_line_and_no_traceback(tmp_path: Path):
    env = {**os.environ, "REASONVOS_MIRROR": closed_port_url()}
    proc = subprocess.run([sys.executable, "-c", "import sys; from reasonvos.cli import main; sys.exit(main())",
                           *download(tmp_path / "root", "--attempts", "1")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "Connection refused" in proc.stderr


def test_a_full_disk_is_one_line_and_not_retried(server: FileServer, tmp_path: Path):
    """A file-size limit (RLIMIT_FSIZE) makes every write past 8 kB fail, as a full disk does."""
    served = serve_refdavis(server, tmp_path)
    assert len(served[UNSUPERVISED]) > 8_000
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (8_000, 8_000))\n"
              "from reasonvos.cli import main\n"
              "sys.exit(main())\n")
    env = {**os.environ, "REASONVOS_MIRROR": server.url}
    proc = subprocess.run([sys.executable, "-c", script, *download(tmp_path / "root", "--no-validate")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "DAVIS-2017-Unsupervised-trainval-480p.zip.part: cannot write the download: File too large" in proc.stderr
    assert [r[1] for r in server.requests] == [UNSUPERVISED]  # neither retried nor tried elsewhere
