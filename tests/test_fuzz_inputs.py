"""Every reader, fed hostile input through the real command line.

Each reader of a user's files (mask PNGs: binary, index and 16-bit; each benchmark's metadata;
the MeViS mask_dict and its RLEs; results files; archives; HTTP answers from a server on
127.0.0.1; video frames) gets truncated, oversized, wrongly typed, duplicated and hostile
versions of a valid input written by the fixture writers. For every case the command must:

- exit with status 1 and print no traceback;
- print exactly one ``reasonvos: error:`` line, naming the file (a prediction folder's grouped
  report may come before it: that report lists every bad file, one per line, by design);
- write nothing outside its own output (checked by listing the test's folder before and after);
- never hang (FIFOs are among the inputs; a blocked ``open`` would stop the test run).

The CLI runs in-process (``reasonvos.cli.main``) for speed; :func:`test_a_real_process_prints_one_line`
runs a few cases as subprocesses to check the real exit status and stderr. Inputs are generated
from fixed seeds, so every run sees the same bytes.

Cases that other branches fix are marked ``xfail(strict=True)`` with the branch named, so that
they turn into failures (to be unmarked) as soon as the fix lands.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from writers.mevis import write_mevis
from writers.reasonvos import write_reasonvos

import reasonvos
from reasonvos.cli import main
from reasonvos.masks import encode_binary_png, encode_index_png, write_binary_png

SEED = 12


def xfail_in(branch: str, what: str):
    return pytest.mark.xfail(strict=True, reason=f"{what}: fixed in branch h/{branch}")


# ------------------------------------------------------------------------------------ harness


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``folder`` (links not followed) with its size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p)] = (st.st_size, st.st_mtime_ns)
    return out


def refused(argv: list[str], capsys, *named: str, report: bool = False, outputs: tuple[Path, ...] = (),
            watch: Path | None = None) -> str:
    """Run the CLI; assert one error line (naming ``named``), exit 1, no traceback, no stray file.

    ``report``: a grouped report may precede the error line (prediction folders). ``watch``: the
    folder in which nothing may change except under ``outputs``. Returns stderr (the error line
    is its last line).
    """
    before = files_under(watch) if watch else {}
    try:
        code = main(argv)
    except SystemExit as e:  # argparse: a usage error is not what these inputs test
        pytest.fail(f"exit {e.code} from argparse for {argv}")
    except Exception as e:  # noqa: BLE001 - the point: anything escaping main() is a traceback
        pytest.fail(f"traceback instead of one line: {type(e).__name__}: {e}")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("reasonvos: error:")]
    assert code == 1, err
    assert "Traceback" not in err
    assert len(errors) == 1 and lines[-1] == errors[0], err
    if not report:
        assert len(lines) == 1, err
    for name in named:
        assert name in errors[0] or (report and name in err), err
    if watch:
        after = files_under(watch)
        changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
        changed = {p for p in changed if not any(Path(p).is_relative_to(o) for o in outputs)}
        assert not changed, f"written outside the target: {sorted(changed)}"
    return err


def make_special(path: Path, kind: str) -> None:
    """Put something that is not a regular file at ``path``."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere" / "at-all")
    else:
        raise ValueError(kind)


SPECIAL = ("fifo", "folder", "loop", "dangling")


# ------------------------------------------------------------------------------- PNG bytes


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(height: int, width: int, depth: int = 8, colour: int = 0) -> bytes:
    """A tiny PNG whose header declares ``height`` x ``width`` (its data is one short row)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


def png_16bit(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint16) * 65535).save(buf, format="PNG")
    return buf.getvalue()


def as_jpeg(mask: np.ndarray) -> bytes:
    """A JPEG of an all-black frame: its decoded values are all 0, so 'binary'."""
    buf = io.BytesIO()
    Image.fromarray(np.zeros(mask.shape, np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def png_mutations(valid: bytes, size: tuple[int, int]) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, words the error must contain) for one valid PNG of ``size`` (H, W)."""
    rng = np.random.default_rng(SEED)
    h, w = size
    flipped = bytearray(valid)
    flipped[20] ^= 0xFF  # inside the IHDR width: the checksum no longer matches
    out = {f"cut-{n}": (valid[:n], "does not decode") for n in (8, 16, 20, 25, 32, len(valid) // 2)}
    out.update({
        "empty": (b"", "empty file"),
        "ihdr-crc": (bytes(flipped), "checksum"),
        "declares-20000x20000": (png_declaring(20000, 20000), "20000x20000"),
        "random": (rng.bytes(200), "does not decode"),
        "signature-then-random": (b"\x89PNG\r\n\x1a\n" + rng.bytes(100), "does not decode"),
        "html": (b"<!DOCTYPE html><html><body>quota exceeded</body></html>", "HTML"),
    })
    return out


# -------------------------------------------------------------------- ReasonVOS: masks


@pytest.fixture(scope="module")
def rv(tmp_path_factory) -> Path:
    """A ReasonVOS copy and a perfect prediction folder (written once, copied per test)."""
    base = tmp_path_factory.mktemp("rv")
    write_reasonvos(base / "root")
    bench = reasonvos.load_benchmark("reasonvos", base / "root")
    for s in bench.samples:
        for frame in bench.scored_frames(s):
            write_binary_png(base / "pred" / bench.prediction_path(s, frame), bench.gt_mask(s, frame))
    return base


@pytest.fixture
def rv_copy(rv: Path, tmp_path: Path) -> Path:
    shutil.copytree(rv, tmp_path / "w", symlinks=True)
    return tmp_path / "w"


def first_pred(w: Path) -> Path:
    return sorted((w / "pred").rglob("*.png"))[0]


def first_gt(w: Path) -> Path:
    return sorted((w / "root" / "ReasonVOS" / "Annotations").rglob("*.png"))[0]


def score_rv(w: Path) -> list[str]:
    return ["score", "reasonvos", "--root", str(w / "root"), "--pred", str(w / "pred"), "--workers", "1", "--quiet"]


def test_the_valid_copy_scores(rv_copy: Path, capsys):
    assert main(score_rv(rv_copy)) == 0, capsys.readouterr().err


def _binary_cases(prediction: bool = False) -> list:
    mask = np.zeros((24, 32), bool)
    mask[3:9, 4:20] = True
    cases = [pytest.param(b, words, id=f"L8-{name}") for name, (b, words) in
             png_mutations(encode_binary_png(mask), mask.shape).items()]
    if prediction:  # the size a prediction must have is known before it is decoded
        cases.append(pytest.param(png_declaring(25, 32), "25x32, expected 24x32", id="declares-one-more-row"))
    sixteen = png_16bit(mask)
    cases += [pytest.param(sixteen[:n], "does not decode", id=f"I16-cut-{n}") for n in (20, len(sixteen) // 2)]
    cases.append(pytest.param(png_declaring(20000, 20000, depth=16), "20000x20000", id="I16-declares-20000x20000"))
    cases.append(pytest.param(as_jpeg(mask), "JPEG", id="jpeg-named-png"))
    return cases


@pytest.mark.parametrize(("data", "words"), _binary_cases(prediction=True))
def test_a_hostile_prediction_png_is_named_with_its_problem(rv_copy: Path, capsys, data: bytes, words: str):
    bad = first_pred(rv_copy)
    bad.write_bytes(data)
    err = refused(score_rv(rv_copy), capsys, report=True, watch=rv_copy)
    assert any(str(bad) in line and words in line for line in err.splitlines()), err


@pytest.mark.parametrize("kind", [
    "fifo", "folder", "dangling",
    pytest.param("loop", marks=pytest.mark.xfail(strict=True, reason="a symlink loop in the prediction listing "
                                                  "(evaluators/checks.py list_folder): outside this branch")),
])
def test_a_prediction_that_is_not_a_regular_file_never_hangs(rv_copy: Path, capsys, kind: str):
    bad = first_pred(rv_copy)
    make_special(bad, kind)
    refused(score_rv(rv_copy), capsys, report=True, watch=rv_copy)


@pytest.mark.parametrize(("data", "words"), _binary_cases())
def test_a_hostile_ground_truth_png_is_one_line(rv_copy: Path, capsys, data: bytes, words: str):
    bad = first_gt(rv_copy)
    bad.write_bytes(data)
    err = refused(score_rv(rv_copy), capsys, str(bad), watch=rv_copy)
    assert words in err


# ------------------------------------------------------------------------ benchmark metadata


def _write_benchmarks(base: Path) -> None:
    from writers.davis import write_davis
    from writers.refdavis import write_refdavis_raw
    from writers.refytvos import write_refytvos

    write_reasonvos(base / "reasonvos")
    write_mevis(base / "mevis")
    write_refytvos(base / "refytvos")
    write_refdavis_raw(base / "refdavis")
    write_davis(base / "davis", layout="davis")


#: benchmark -> (stats arguments after the root, its metadata files: (path under the root, kind))
METADATA = {
    "reasonvos": ([], [("ReasonVOS/meta_expressions.json", "json")]),
    "mevis": (["--split", "valid_u", "--no-masks"], [("mevis/valid_u/meta_expressions.json", "json")]),
    "refytvos": ([], [("ref-youtube-vos/meta_expressions/valid/meta_expressions.json", "json")]),
    "refdavis": ([], [("DAVIS/davis_semantics.json", "json"), ("davis_text_annotations/Davis17_annot1.txt", "text")]),
    "davis": (["--split", "val"], [("DAVIS/ImageSets/2017/val.txt", "text")]),
}


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("benchmarks")
    _write_benchmarks(base)
    return base


def _with_first_key_twice(text: str) -> str:
    """The JSON text with the first key of its first nested object repeated (last one wins in
    ``json.load``), holding a valid but different copy of the value."""
    obj = json.loads(text)
    outer = next(iter(obj))
    inner = obj[outer]
    if not isinstance(inner, dict):
        return text
    first = next(iter(inner))
    body = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in inner.items())
    twin = dict(inner[first]) if isinstance(inner[first], dict) else inner[first]
    if isinstance(twin, dict) and isinstance(twin.get("expressions"), list | dict) and len(twin["expressions"]) > 1:
        exps = twin["expressions"]  # a valid entry, one expression short: the scores would change
        twin["expressions"] = exps[:-1] if isinstance(exps, list) else dict(list(exps.items())[:-1])
    twin = json.dumps(twin)
    rest = {k: v for k, v in obj.items() if k != outer}
    extra = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in rest.items())
    return f'{{{json.dumps(outer)}: {{{body}, {json.dumps(first)}: {twin}}}{extra}}}'


def json_mutations(text: str) -> dict[str, bytes]:
    """Hostile versions of a JSON object's text."""
    body = text.strip()
    assert body.startswith("{")
    return {
        "cut": body[: len(body) // 2].encode(),
        "huge-integer": ('{"x": ' + "9" * 5000 + ", " + body[1:]).encode(),
        "deep-nesting": ('{"x": ' + "[" * 100_000 + "]" * 100_000 + ", " + body[1:]).encode(),
        "not-utf8": body.encode().replace(b'"', b'"\xff\xfe', 1),
        "a-list": b"[" + body.encode() + b"]",
        "null": b"null",
        "empty": b"",
        "duplicated-key": _with_first_key_twice(body).encode(),
    }


def text_mutations(text: str) -> dict[str, bytes]:
    return {"not-utf8": b"\xff\xfe\x00" + text.encode(), "duplicated-line": (text + text).encode()}


def _metadata_cases() -> list:
    cases = []
    for name, (_args, files) in METADATA.items():
        for rel, kind in files:
            muts = ("cut", "huge-integer", "deep-nesting", "not-utf8", "a-list", "null", "empty", "duplicated-key") \
                if kind == "json" else ("not-utf8", "duplicated-line")
            for m in muts:
                marks = ()
                if name == "reasonvos" and m == "duplicated-key":
                    marks = xfail_in("validate", "a duplicated video key in meta_expressions.json")
                cases.append(pytest.param(name, rel, kind, m, marks=marks, id=f"{name}-{Path(rel).name}-{m}"))
            for special in SPECIAL:
                cases.append(pytest.param(name, rel, kind, special, id=f"{name}-{Path(rel).name}-{special}"))
    return cases


@pytest.mark.parametrize(("name", "rel", "kind", "mutation"), _metadata_cases())
def test_hostile_metadata_is_one_line_naming_the_file(benchmarks: Path, tmp_path: Path, capsys,
                                                      name: str, rel: str, kind: str, mutation: str):
    root = tmp_path / name
    shutil.copytree(benchmarks / name, root, symlinks=True)
    path = root / rel
    if mutation in SPECIAL:
        make_special(path, mutation)
    else:
        text = path.read_text(encoding="utf-8-sig" if kind == "text" else "utf-8")
        path.write_bytes((json_mutations(text) if kind == "json" else text_mutations(text))[mutation])
    args, _ = METADATA[name]
    refused(["stats", name, "--root", str(root), "--quiet", *args], capsys, path.name, watch=tmp_path)
