"""Downloads against a local HTTP server on 127.0.0.1: resume after a cut, retries on server
errors, checksum failures kept aside, Drive through gdown and the hub through huggingface_hub
(only their host names are redirected to the local server), and the `reasonvos download` command."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support.http_server import Behaviour, FileServer
from writers.archives import write_zip
from writers.reasonvos import write_reasonvos

from reasonvos.acquire.download import (
    RetryPolicy,
    download_benchmark,
    gdrive_download,
    http_download,
    hub_download,
)
from reasonvos.acquire.extract import MARKER, read_marker
from reasonvos.cli import main
from reasonvos.errors import DownloadError, InputError

FAST = RetryPolicy(attempts=3, base_delay=0.0, timeout=5.0)






@pytest.fixture
def server() -> Iterator[FileServer]:
    s = FileServer()
    yield s
    s.close()


def payload(n: int = 300_000) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(n))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------------- HTTP


def test_cut_transfer_is_resumed_with_a_range_request(server: FileServer, tmp_path: Path):
    data = payload()
    server.files["/f.bin"] = data
    server.behaviour["/f.bin"] = Behaviour(cut_after=100_000, cut_times=1)
    dest = tmp_path / "dl/f.bin"
    digest = http_download([server.url + "/f.bin"], dest, size=len(data), sha256=sha(data), policy=FAST, quiet=True)
    assert dest.read_bytes() == data and digest == sha(data)
    assert [r[2] for r in server.requests] == [None, "bytes=100000-"]
    assert not dest.with_name("f.bin.part").exists()


def test_interrupted_run_leaves_a_part_file_that_the_next_run_resumes(server: FileServer, tmp_path: Path):
    data = payload()
    server.files["/f.bin"] = data
    server.behaviour["/f.bin"] = Behaviour(cut_after=123_456, cut_times=1)
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match="cut short|interrupted"):
        http_download([server.url + "/f.bin"], dest, sha256=sha(data), policy=RetryPolicy(attempts=1), quiet=True)
    assert dest.with_name("f.bin.part").stat().st_size == 123_456 and not dest.exists()
    http_download([server.url + "/f.bin"], dest, sha256=sha(data), policy=FAST, quiet=True)
    assert dest.read_bytes() == data
    assert server.requests[-1][2] == "bytes=123456-"


def test_verified_file_is_not_downloaded_again(server: FileServer, tmp_path: Path):
    server.files["/f.bin"] = data = payload(1000)
    dest = tmp_path / "f.bin"
    http_download([server.url + "/f.bin"], dest, sha256=sha(data), policy=FAST, quiet=True)
    http_download([server.url + "/f.bin"], dest, sha256=sha(data), policy=FAST, quiet=True)
    assert len(server.requests) == 1


def test_wrong_checksum_is_an_error_and_the_file_is_kept_aside(server: FileServer, tmp_path: Path):
    server.files["/f.bin"] = payload(5000)
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match="sha256 is .* expected the published 0+.*f.bin.corrupt"):
        http_download([server.url + "/f.bin"], dest, sha256="0" * 64, policy=FAST, quiet=True)
    assert not dest.exists() and (tmp_path / "f.bin.corrupt").read_bytes() == payload(5000)
    assert not (tmp_path / "f.bin.part").exists()


def test_wrong_size_is_an_error(server: FileServer, tmp_path: Path):
    server.files["/f.bin"] = payload(5000)
    with pytest.raises(DownloadError, match="5000 bytes, expected 6000"):
        http_download([server.url + "/f.bin"], tmp_path / "f.bin", size=6000, policy=FAST, quiet=True)


def test_server_errors_are_retried_then_succeed(server: FileServer, tmp_path: Path):
    server.files["/f.bin"] = data = payload(2000)
    server.behaviour["/f.bin"] = Behaviour(fail_status=503, fail_times=2)
    delays: list[float] = []
    http_download([server.url + "/f.bin"], tmp_path / "f.bin", policy=RetryPolicy(attempts=3, base_delay=0.5),
                  quiet=True, sleep=delays.append)
    assert (tmp_path / "f.bin").read_bytes() == data
    assert delays == [0.5, 1.0]  # exponential backoff


def test_persistent_server_error_gives_a_clear_message(server: FileServer, tmp_path: Path):
    server.files["/f.bin"] = payload(10)
    server.behaviour["/f.bin"] = Behaviour(fail_status=500, fail_times=99)
    with pytest.raises(DownloadError) as info:
        http_download([server.url + "/f.bin"], tmp_path / "f.bin", policy=FAST, quiet=True)
    msg = str(info.value)
    assert "failed after 3 attempts" in msg and "HTTP 500" in msg
    assert "download f.bin manually" in msg and "--archive FILE" in msg
    assert len(server.requests) == 3


def test_not_found_is_not_retried_and_the_alternate_url_is_tried(server: FileServer, tmp_path: Path):
    server.files["/mirror/t.zip"] = data = payload(100)
    http_download([server.url + "/gone/t.zip", server.url + "/mirror/t.zip"], tmp_path / "t.zip",
                  policy=FAST, quiet=True)
    assert (tmp_path / "t.zip").read_bytes() == data
    assert [r[1] for r in server.requests] == ["/gone/t.zip", "/mirror/t.zip"]


def test_proxy_environment_is_honoured(server: FileServer, tmp_path: Path, monkeypatch):
    """requests' trust_env: an http_proxy pointing at our server receives the absolute URL."""
    server.files["/f.bin"] = data = payload(100)
    monkeypatch.setenv("http_proxy", server.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    http_download(["http://data.example.invalid/f.bin"], tmp_path / "f.bin", policy=FAST, quiet=True)
    assert (tmp_path / "f.bin").read_bytes() == data


# --------------------------------------------------------------------------- Google Drive


@pytest.fixture
def drive(server: FileServer, monkeypatch, tmp_path: Path) -> FileServer:
    """Send gdown's requests for drive.google.com to the local server (the network boundary)."""
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, **kwargs):
        if request.url.startswith("https://drive.google.com/"):
            request.url = request.url.replace("https://drive.google.com", server.url, 1)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # gdown keeps its cookies under ~/.cache
    return server


def drive_file(server: FileServer, file_id: str, data: bytes, name: str) -> None:
    server.files[f"/drive/{file_id}"] = data
    server.behaviour[f"/drive/{file_id}"] = Behaviour(
        content_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def test_drive_file_through_gdown(drive: FileServer, tmp_path: Path):
    data = write_zip(tmp_path / "src.zip", {"ReasonVOS/meta_expressions.json": b"{}"}).read_bytes()
    drive_file(drive, "ABC", data, "ReasonVOS.zip")
    dest = tmp_path / "dl/ReasonVOS.zip"
    assert gdrive_download("ABC", dest, policy=FAST, quiet=True) == sha(data)
    assert dest.read_bytes() == data
    assert drive.requests[0][1] == "/uc"


def test_drive_quota_page_is_a_clear_error(drive: FileServer, tmp_path: Path):
    drive.files["/drive/ABC"] = b"<html><body>Too many users have viewed or downloaded this file recently</body></html>"
    drive.behaviour["/drive/ABC"] = Behaviour(content_type="text/html; charset=utf-8")
    with pytest.raises(DownloadError, match="quota.*download ReasonVOS.zip manually from https://drive.google.com/file/d/ABC.*--archive"):
        gdrive_download("ABC", tmp_path / "ReasonVOS.zip", policy=FAST, quiet=True)


def test_drive_web_page_instead_of_zip_is_kept_aside(drive: FileServer, tmp_path: Path):
    drive_file(drive, "ABC", b"<html>not a zip</html>", "ReasonVOS.zip")
    with pytest.raises(DownloadError, match="not a zip or tar"):
        gdrive_download("ABC", tmp_path / "ReasonVOS.zip", policy=FAST, quiet=True)
    assert (tmp_path / "ReasonVOS.zip.corrupt").exists() and not (tmp_path / "ReasonVOS.zip").exists()


# ------------------------------------------------------------------------------------ hub


class HubEmulator:
    """The few hub endpoints hf_hub_download uses, served by the local file server."""

    def __init__(self, server: FileServer, repo: str, files: dict[str, bytes]) -> None:
        commit = "a" * 40
        for path, data in files.items():
            key = f"/datasets/{repo}/resolve/{commit}/{path}"
            server.files[key] = data
            server.files[f"/datasets/{repo}/resolve/main/{path}"] = data
            etag = hashlib.sha1(data).hexdigest()
            for k in (key, f"/datasets/{repo}/resolve/main/{path}"):
                server.behaviour[k] = Behaviour(headers={"X-Repo-Commit": commit, "ETag": f'"{etag}"'})
        tree = json.dumps([{"type": "file", "path": p, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                           for p, d in files.items()]).encode()
        for rev in ("main", commit):
            server.files[f"/api/datasets/{repo}/tree/{rev}"] = tree
            server.behaviour[f"/api/datasets/{repo}/tree/{rev}"] = Behaviour(content_type="application/json")


def test_hub_file_through_huggingface_hub(server: FileServer, tmp_path: Path):
    HubEmulator(server, "org/ds", {"train/meta_expressions_v2.json": b'{"videos": {}}'})
    local, digest = hub_download("org/ds", "train/meta_expressions_v2.json", tmp_path / "hub", endpoint=server.url)
    assert local.read_bytes() == b'{"videos": {}}' and digest == sha(b'{"videos": {}}')
    with pytest.raises(DownloadError, match="expected the published"):
        hub_download("org/ds", "train/meta_expressions_v2.json", tmp_path / "hub2", endpoint=server.url,
                     sha256="1" * 64)


def test_hub_missing_file_is_a_clear_error(server: FileServer, tmp_path: Path):
    HubEmulator(server, "org/ds", {})
    with pytest.raises(DownloadError, match="Hugging Face download of org/ds/train/x.json failed") as info:
        hub_download("org/ds", "train/x.json", tmp_path / "hub", endpoint=server.url)
    assert "\n" not in str(info.value)  # the hub client's several lines become one


# ------------------------------------------------------------------------ whole benchmarks


def reasonvos_zip(tmp_path: Path) -> Path:
    base = write_reasonvos(tmp_path / "src")
    files = {p.relative_to(base.parent).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}
    return write_zip(tmp_path / "ReasonVOS.zip", files)


def test_download_reasonvos_from_drive_extracts_and_second_run_does_nothing(drive: FileServer, tmp_path: Path):
    archive = reasonvos_zip(tmp_path)
    drive_file(drive, "1QMggGR91AE-iUUub5YwzMYiFt0TeV5_8", archive.read_bytes(), "ReasonVOS.zip")
    root = tmp_path / "root"
    lines: list[str] = []
    res = download_benchmark("reasonvos", root, accept_licence=True, quiet=True, policy=FAST, out=lines.append)
    assert "non-commercial research purpose only" in lines[0]
    assert (root / "ReasonVOS/meta_expressions.json").is_file()
    assert read_marker(root / "ReasonVOS")["archives"][0]["name"] == "ReasonVOS.zip"
    assert any("self-recorded" in n for n in res.notes)
    n = len(drive.requests)
    download_benchmark("reasonvos", root, accept_licence=True, quiet=True, policy=FAST, out=lines.append)
    assert len(drive.requests) == n


def test_user_supplied_archive_is_used_without_network(tmp_path: Path):
    archive = reasonvos_zip(tmp_path)
    root = tmp_path / "root"
    download_benchmark("reasonvos", root, archives=[archive], accept_licence=True, quiet=True, out=lambda s: None)
    assert (root / "ReasonVOS" / MARKER).is_file()
    assert archive.is_file()  # the user's file is used in place, never moved


def test_unknown_archive_name_is_refused(tmp_path: Path):
    other = write_zip(tmp_path / "something.zip", {"a": b"1"})
    with pytest.raises(InputError, match="expected one of: ReasonVOS.zip"):
        download_benchmark("reasonvos", tmp_path / "root", archives=[other], accept_licence=True, out=lambda s: None)


def test_login_only_files_must_be_supplied(tmp_path: Path):
    with pytest.raises(DownloadError, match=r"valid.zip from https://codalab.*--archive"):
        download_benchmark("refytvos", tmp_path / "root", accept_licence=True, out=lambda s: None)


def test_licence_must_be_accepted(tmp_path: Path):
    archive = reasonvos_zip(tmp_path)
    with pytest.raises(InputError, match="--accept-licence"):
        download_benchmark("reasonvos", tmp_path / "root", archives=[archive], out=lambda s: None)
    download_benchmark("reasonvos", tmp_path / "root", archives=[archive], ask=lambda q: True, out=lambda s: None)
    assert (tmp_path / "root/ReasonVOS/meta_expressions.json").is_file()


def test_mevis_v1_member_checksum_catches_a_corrupt_mask_dict(tmp_path: Path):
    archive = write_zip(tmp_path / "MeViS_release.zip", {
        "MeViS_release/valid_u/mask_dict.json": b"{}",
        "MeViS_release/valid_u/meta_expressions.json": b'{"videos": {}}',
    })
    with pytest.raises(DownloadError, match="valid_u/mask_dict.json.*expected the published 6e711a3f"):
        download_benchmark("mevis", tmp_path / "root", archives=[archive], accept_licence=True, quiet=True,
                           out=lambda s: None)
    # the mask_dict was found under the wrapper folder (the layout root) and checked in the staged copy,
    # before anything reached the root: a copy that fails its published checksum is never installed
    assert not (tmp_path / "root/valid_u").exists()
    assert read_marker(tmp_path / "root") == {"archives": []}


def test_download_command_extracts_and_validates(tmp_path: Path, capsys):
    archive = reasonvos_zip(tmp_path)
    root = tmp_path / "root"
    code = main(["download", "reasonvos", "--root", str(root), "--archive", str(archive), "--accept-licence", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "VERDICT: OK" in out


def test_download_command_without_licence_flag_fails_non_interactively(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code = main(["download", "reasonvos", "--root", str(tmp_path / "r"), "--archive", str(reasonvos_zip(tmp_path))])
    assert code == 1
    assert "--accept-licence" in capsys.readouterr().err


def test_mevis_v2_from_the_hub_installs_and_extracts(server: FileServer, tmp_path: Path):
    """The v2 files come through huggingface_hub (one file at a time, and a folder snapshot)."""
    import io
    import tarfile

    from writers.mevis import write_mevis

    fx = write_mevis(tmp_path / "src", "valid_u", versions=("v2",))
    files: dict[str, bytes] = {}
    for split in ("train", "valid_u"):
        sdir = fx.root / "valid_u"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            tf.add(sdir / "JPEGImages", arcname="JPEGImages")
        files[f"{split}/JPEGImages.tar"] = buf.getvalue()
        files[f"{split}/mask_dict.json"] = (sdir / "mask_dict.json").read_bytes()
        files[f"{split}/meta_expressions_v2.json"] = (sdir / "meta_expressions_v2.json").read_bytes()
    HubEmulator(server, "FudanCVL/MeViSv2", files)
    root = tmp_path / "root"
    res = download_benchmark("mevis", root, accept_licence=True, quiet=True, hub_endpoint=server.url,
                             out=lambda s: None)
    assert res.variant == "v2"
    for split in ("train", "valid_u"):
        assert (root / split / "meta_expressions_v2.json").read_bytes() == files[f"{split}/meta_expressions_v2.json"]
        assert sorted(p.name for p in (root / split / "JPEGImages").iterdir()) == sorted(fx.frames)
    assert any("valid" in n and "no files matching" in n for n in res.notes)  # absent folder: said, not hidden
    from reasonvos.validation import validate

    assert validate("mevis", root, "valid_u").ok


def test_unreachable_hub_folder_is_an_error_not_a_silent_skip(server: FileServer, tmp_path: Path):
    from reasonvos.acquire.download import hub_folder_download

    with pytest.raises(DownloadError, match="cannot list the Hugging Face dataset org/missing"):
        hub_folder_download("org/missing", ["valid_u/*"], tmp_path / "hub", endpoint=server.url)


def test_refdavis_over_https_with_the_alternate_text_url(server: FileServer, tmp_path: Path, monkeypatch):
    """The three Ref-DAVIS archives come over plain HTTPS; the first text-annotation URL is gone."""
    from writers.refdavis import write_refdavis_raw

    from reasonvos.validation import validate

    src = tmp_path / "src"
    write_refdavis_raw(src)

    def zipped(name: str, folder: str, only: str | None = None) -> bytes:
        files = {p.relative_to(src).as_posix(): p.read_bytes() for p in (src / folder).rglob("*")
                 if p.is_file() and (only is None or p.name == only) and (only or p.name != "davis_semantics.json")}
        return write_zip(tmp_path / name, files).read_bytes()

    server.files["/csergi/share/davis/DAVIS-2017-Unsupervised-trainval-480p.zip"] = zipped("u.zip", "DAVIS")
    server.files["/csergi/share/davis/DAVIS-2017_semantics-480p.zip"] = zipped("s.zip", "DAVIS", "davis_semantics.json")
    server.files["/fileadmin/inf/d2/Research/OneVOS/davis_text_annotations.zip"] = zipped("t.zip", "davis_text_annotations")
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, **kwargs):  # the hosts, and only they, are served locally
        for host in ("https://data.vision.ee.ethz.ch", "https://www.mpi-inf.mpg.de"):
            if request.url.startswith(host):
                request.url = server.url + request.url[len(host):]
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    root = tmp_path / "root"
    download_benchmark("refdavis", root, accept_licence=True, quiet=True, policy=FAST, out=lambda s: None)
    assert "/fileadmin/inf/d2/khoreva/davis_text_annotations.zip" in [r[1] for r in server.requests]
    assert (root / "DAVIS/davis_semantics.json").is_file() and (root / "DAVIS/JPEGImages").is_dir()
    assert [a["name"] for a in read_marker(root / "DAVIS")["archives"]] == [
        "DAVIS-2017-Unsupervised-trainval-480p.zip", "DAVIS-2017_semantics-480p.zip"]
    report = validate("refdavis", root)
    assert report.ok, report.format()


def test_registry_lists_every_benchmark_with_checksums_or_a_note():
    from reasonvos.acquire.sources import get_source, parse_registry, registry

    assert set(registry()) == {"reasonvos", "mevis", "refytvos", "refdavis", "revos"}
    rv = get_source("reasonvos")
    [zip_entry] = rv.variant().files
    assert zip_entry.gdrive_id == "1QMggGR91AE-iUUub5YwzMYiFt0TeV5_8" and zip_entry.sha256 is None
    assert rv.superseded[0]["gdrive_id"] == "1qruU9QlUhPcHnN-UHG7iri2nhw_xo7gP"
    members = {m.path: m.sha256 for m in get_source("mevis").variant("v1").members}
    assert members["train/mask_dict.json"].startswith("f9d9b01a") and members["valid_u/mask_dict.json"].startswith("6e711a3f")
    for source in registry().values():
        assert source.licence
        for variant in source.variants.values():
            for f in variant.files:
                assert f.sha256 is not None or f.size is not None or "None published" in f.checksum_note \
                    or "No " in f.checksum_note, f.name
    with pytest.raises(InputError, match="checksum_note"):
        parse_registry({"benchmarks": {"x": {"default_variant": "a", "variants": {"a": {"files": [
            {"name": "f.zip", "method": "http", "urls": ["http://x"]}]}}}}}, Path("sources.json"))


def test_partial_bytes_from_one_mirror_are_not_resumed_from_another(server: FileServer, tmp_path: Path):
    data = payload(50_000)
    server.files["/a/f.bin"] = b"X" * 50_000  # a different file behind the first URL
    server.behaviour["/a/f.bin"] = Behaviour(cut_after=20_000, cut_times=1)
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError):
        http_download([server.url + "/a/f.bin"], dest, policy=RetryPolicy(attempts=1), quiet=True)
    server.files["/b/f.bin"] = data
    http_download([server.url + "/b/f.bin"], dest, sha256=sha(data), policy=FAST, quiet=True)
    assert dest.read_bytes() == data
    assert server.requests[-1] == ("GET", "/b/f.bin", None)  # started over, no Range


def test_verified_hub_file_is_not_asked_for_again(server: FileServer, tmp_path: Path):
    HubEmulator(server, "org/ds", {"train/a.json": b"{}"})
    hub_download("org/ds", "train/a.json", tmp_path / "hub", endpoint=server.url)
    n = len(server.requests)
    hub_download("org/ds", "train/a.json", tmp_path / "hub", endpoint=server.url)
    assert len(server.requests) == n
