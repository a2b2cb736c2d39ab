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
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
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
from reasonvos.masks import encode_binary_png, write_binary_png

SEED = 12


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
    "loop",
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
                cases.append(pytest.param(name, rel, kind, m, id=f"{name}-{Path(rel).name}-{m}"))
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


def _set(obj, path: tuple, value) -> None:
    """Set ``obj[path...]``; ``"*"`` is the first key (or item) at that level."""
    for i, key in enumerate(path):
        if key == "*":
            key = next(iter(obj)) if isinstance(obj, dict) else 0
        if i == len(path) - 1:
            obj[key] = value
        else:
            obj = obj[key]


TYPED = {
    "reasonvos": ("ReasonVOS/meta_expressions.json", [
        (("videos",), []), (("videos", "*"), "a string"), (("videos", "*", "frames"), 5),
        (("videos", "*", "frames"), [1.5, None]), (("videos", "*", "expressions"), 5),
        (("videos", "*", "expressions", "*"), []), (("videos", "*", "expressions", "*", "exp_text"), 5),
        (("videos", "*", "expressions", "*", "obj_id"), {"a": 1}), (("videos", "*", "source"), ["x"]),
    ]),
    "mevis": ("mevis/valid_u/meta_expressions.json", [
        (("videos",), "x"), (("videos", "*", "expressions"), []), (("videos", "*", "frames"), None),
        (("videos", "*", "expressions", "*", "anno_id"), {"a": 1}), (("videos", "*", "expressions", "*", "exp"), 5),
    ]),
    "refytvos": ("ref-youtube-vos/meta_expressions/valid/meta_expressions.json", [
        (("videos", "*", "expressions"), 5), (("videos", "*", "frames"), {"a": 1}),
    ]),
}


@pytest.mark.parametrize(("name", "path", "value"), [
    pytest.param(name, path, value, id=f"{name}-{'.'.join(map(str, path))}={json.dumps(value)}")
    for name, (_rel, cases) in TYPED.items() for path, value in cases
])
def test_wrongly_typed_metadata_is_one_line_naming_the_file(benchmarks: Path, tmp_path: Path, capsys,
                                                            name: str, path: tuple, value):
    root = tmp_path / name
    shutil.copytree(benchmarks / name, root, symlinks=True)
    meta = root / TYPED[name][0]
    obj = json.loads(meta.read_text())
    _set(obj, path, value)
    meta.write_text(json.dumps(obj))
    refused(["stats", name, "--root", str(root), "--quiet", *METADATA[name][0]], capsys, meta.name, watch=tmp_path)


# ------------------------------------------------------------------------ MeViS mask_dict, RLE


def _rle_cases() -> list:
    """(anno entry mutation as a function of the entry, id)."""
    def first_rle(change: Callable[[dict], object]) -> Callable[[list], list]:
        def f(entry: list) -> list:
            i = next(k for k, r in enumerate(entry) if r is not None)
            return [*entry[:i], change(dict(entry[i])), *entry[i + 1:]]
        return f

    huge = 10**9
    return [
        pytest.param(first_rle(lambda r: {**r, "size": [-5, 7]}), "not positive", id="negative-size"),
        pytest.param(first_rle(lambda r: {**r, "size": [huge, huge]}), "pixels", id="huge-size"),
        pytest.param(first_rle(lambda r: {**r, "size": [20000, 20000]}), "pixels", id="20000x20000-size"),
        pytest.param(first_rle(lambda r: {**r, "size": [2.5, 3]}), "RLE size", id="float-size"),
        pytest.param(first_rle(lambda r: {**r, "size": ["1", "2"]}), "RLE size", id="string-size"),
        pytest.param(first_rle(lambda r: {**r, "size": [1, 2, 3]}), "RLE size", id="three-sizes"),
        pytest.param(first_rle(lambda r: {**r, "counts": 5}), "counts", id="int-counts"),
        pytest.param(first_rle(lambda r: {**r, "counts": [huge, -huge]}), "negative", id="negative-run"),
        pytest.param(first_rle(lambda r: {**r, "counts": [10**40]}), "cover", id="huge-run"),
        pytest.param(first_rle(lambda r: {**r, "counts": "o" * 100_000}), "absurd", id="endless-run"),
        pytest.param(first_rle(lambda r: {**r, "counts": "é"}), "ASCII", id="non-ascii-counts"),
        pytest.param(first_rle(lambda r: {**r, "counts": r["counts"][:-3]}), "cover", id="cut-counts"),
        pytest.param(first_rle(lambda r: {"counts": r["counts"]}), "RLE", id="no-size"),
        pytest.param(first_rle(lambda r: [r["size"], r["counts"]]), "RLE", id="a-list"),
        pytest.param(lambda entry: entry[:-1], "entries", id="one-frame-short"),
        pytest.param(lambda entry: {"0": entry}, "dict", id="an-object"),
    ]


@pytest.fixture(scope="module")
def mevis_gt(benchmarks: Path) -> Path:
    return benchmarks / "mevis"


def _stats_mevis(root: Path) -> list[str]:
    return ["stats", "mevis", "--root", str(root), "--split", "valid_u", "--quiet"]


def test_the_valid_mevis_copy_reads(mevis_gt: Path, capsys):
    assert main(_stats_mevis(mevis_gt)) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("mutate", "words"), _rle_cases())
def test_a_hostile_rle_is_one_line_naming_the_mask_dict(mevis_gt: Path, tmp_path: Path, capsys,
                                                       mutate: Callable, words: str):
    root = tmp_path / "mevis"
    shutil.copytree(mevis_gt, root)
    path = root / "mevis" / "valid_u" / "mask_dict.json"
    masks = json.loads(path.read_text())
    first = next(iter(masks))
    masks[first] = mutate(masks[first])
    path.write_text(json.dumps(masks))
    err = refused(_stats_mevis(root), capsys, path.name, watch=tmp_path)
    assert words in err


@pytest.mark.parametrize("mutation", [
    "cut", "huge-integer", "deep-nesting", "not-utf8", "a-list", "empty",
    "duplicated-key",
    *SPECIAL,
])
def test_a_hostile_mask_dict_is_one_line_naming_it(mevis_gt: Path, tmp_path: Path, capsys, mutation: str):
    root = tmp_path / "mevis"
    shutil.copytree(mevis_gt, root)
    path = root / "mevis" / "valid_u" / "mask_dict.json"
    if mutation in SPECIAL:
        make_special(path, mutation)
    else:
        text = path.read_text()
        if mutation == "duplicated-key":  # the first anno_id again, with its masks emptied
            masks = json.loads(text)
            first = next(iter(masks))
            twin = [None] * len(masks[first])
            text = text.rstrip()[:-1] + f", {json.dumps(first)}: {json.dumps(twin)}}}"
            path.write_text(text)
        else:
            path.write_bytes(json_mutations(text)[mutation])
    refused(_stats_mevis(root), capsys, path.name, watch=tmp_path)


# ---------------------------------------------------------------------- results files (leaderboard)


def results_file() -> dict:
    """A results file as ``reasonvos score --json`` writes it."""
    row = {"key": "v/0", "video": "v", "exp_id": "0", "obj_ids": ["1"], "text": "a cat", "kind": "short",
           "source": "mevis", "J": 0.5, "F": 0.6, "J&F": 0.55, "I": 1, "U": 2, "frames": 3, "missing_frames": 0}
    return {
        "format": "reasonvos-results/1", "benchmark": "reasonvos", "split": None, "protocol": "expression",
        "missing_policy": "error", "method": "m", "method_meta": {"role": "model"}, "toolkit_version": "0.1.0",
        "date": "2026-01-01T00:00:00+00:00",
        "summary": {"J": 0.5, "F": 0.6, "J&F": 0.55, "missing_samples": 0, "missing_frames": 0, "n_samples": 1,
                    "breakdown": {"kind": {"short": {"J": 0.5, "F": 0.6, "J&F": 0.55, "n": 1}}}},
        "per_sample": [row], "per_object": [],
    }


RESULTS_TYPED = [
    (("summary",), []), (("summary", "J"), "0.5"), (("summary", "J"), True), (("summary", "J"), float("inf")),
    (("summary", "J"), 55.0), (("summary", "missing_samples"), -1), (("summary", "n_samples"), 1.5),
    (("summary", "breakdown"), 5), (("summary", "breakdown", "kind"), []), (("summary", "breakdown", "kind", "short"), 1),
    (("per_sample",), {"a": 1}), (("per_sample", 0), 1), (("per_sample", 0, "J"), "x"), (("per_object",), 5),
    (("method",), 5), (("method_meta",), []), (("method_meta", "role"), ["model"]), (("date",), 5),
    (("date",), "yesterday"), (("format",), 5), (("format",), "reasonvos-results/9"), (("benchmark",), None),
    (("split",), 5),
]


def _leaderboard(tmp_path: Path, *inputs: Path) -> list[str]:
    return ["leaderboard", *map(str, inputs), "--out", str(tmp_path / "board"), "--no-reported", "--quiet"]


def test_a_valid_results_file_makes_a_board(tmp_path: Path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results_file()))
    assert main(_leaderboard(tmp_path, path)) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("path", "value"), [
    pytest.param(p, v, id=f"{'.'.join(map(str, p))}={json.dumps(v)}") for p, v in RESULTS_TYPED])
def test_a_wrongly_typed_results_file_is_one_line(tmp_path: Path, capsys, path: tuple, value):
    obj = results_file()
    _set(obj, path, value)
    results = tmp_path / "in" / "r.json"
    results.parent.mkdir()
    results.write_text(json.dumps(obj))
    refused(_leaderboard(tmp_path, results), capsys, results.name, watch=tmp_path, outputs=(tmp_path / "board",))
    assert not (tmp_path / "board").exists()


@pytest.mark.parametrize("mutation", ["cut", "huge-integer", "deep-nesting", "not-utf8", "a-list", "null", "empty",
                                      *SPECIAL])
@pytest.mark.parametrize("given", ["file", "folder"])
def test_a_hostile_results_file_is_one_line(tmp_path: Path, capsys, mutation: str, given: str):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "r.json"
    if mutation in SPECIAL:
        make_special(path, mutation)
    else:
        path.write_bytes(json_mutations(json.dumps(results_file()))[mutation])
    target = path if given == "file" else folder
    refused(_leaderboard(tmp_path, target), capsys, str(target), watch=tmp_path, outputs=(tmp_path / "board",))
    assert not (tmp_path / "board").exists()


# ----------------------------------------------------------------------------------- archives


@pytest.fixture(scope="module")
def rv_files(tmp_path_factory) -> dict[str, bytes]:
    """The files of a ReasonVOS copy, as archive entries."""
    base = tmp_path_factory.mktemp("rvzip")
    write_reasonvos(base)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def _zip_cases() -> list:
    from writers.archives import (
        write_tar,
        write_tar_fifo,
        write_tar_link,
        write_zip,
        write_zip_bomb,
        write_zip_symlink,
    )

    def cut(path: Path, files: dict[str, bytes]) -> Path:
        data = write_zip(path, files).read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path

    def raw(data: bytes) -> Callable[[Path, dict], Path]:
        def f(path: Path, files: dict) -> Path:
            path.write_bytes(data)
            return path
        return f

    def with_entry(name: str) -> Callable[[Path, dict], Path]:
        return lambda path, files: write_zip(path, {**files, name: b"escaped"})

    rng = np.random.default_rng(SEED)
    return [
        pytest.param("ReasonVOS.zip", cut, id="zip-cut-in-half"),
        pytest.param("ReasonVOS.zip", raw(rng.bytes(5000)), id="zip-random-bytes"),
        pytest.param("ReasonVOS.zip", raw(b"<!DOCTYPE html><html>Sign in</html>"), id="zip-html-page"),
        pytest.param("ReasonVOS.zip", raw(b""), id="zip-empty"),
        pytest.param("ReasonVOS.zip", with_entry("../escaped.txt"), id="zip-dot-dot"),
        pytest.param("ReasonVOS.zip", with_entry("ReasonVOS/../../escaped.txt"), id="zip-inner-dot-dot"),
        pytest.param("ReasonVOS.zip", with_entry("/tmp/escaped.txt"), id="zip-absolute"),
        pytest.param("ReasonVOS.zip", lambda p, f: write_zip_symlink(p, "ReasonVOS/link", "../../outside", f),
                     id="zip-symlink-out"),
        pytest.param("ReasonVOS.zip", lambda p, f: write_zip_bomb(p, "ReasonVOS/bomb.bin", 8 << 20), id="zip-bomb"),
        pytest.param("MeViS_release.tar", lambda p, f: write_tar(p, {"../escaped.txt": b"x"}, mode="w"),
                     id="tar-dot-dot"),
        pytest.param("MeViS_release.tar", lambda p, f: write_tar_link(p, "MeViS_release/x", "/etc/passwd", hard=True),
                     id="tar-hardlink-out"),
        pytest.param("MeViS_release.tar", lambda p, f: write_tar_link(p, "MeViS_release/x", "../../outside"),
                     id="tar-symlink-out"),
        pytest.param("MeViS_release.tar", lambda p, f: write_tar_fifo(p, "MeViS_release/valid_u/fifo"), id="tar-fifo"),
        pytest.param("MeViS_release.tar.gz", lambda p, f: raw(write_tar(p, {"a/b": b"x" * 5000}).read_bytes()[:60])(p, f),
                     id="tar-gz-cut"),
    ]


def _download(name: str, root: Path, archive: Path) -> list[str]:
    bench = "reasonvos" if name.startswith("ReasonVOS") else "mevis"
    variant = [] if bench == "reasonvos" else ["--variant", "v1"]
    return ["download", bench, *variant, "--root", str(root), "--archive", str(archive), "--accept-licence",
            "--quiet", "--no-validate"]


def test_a_valid_archive_extracts(rv_files: dict[str, bytes], tmp_path: Path, capsys):
    from writers.archives import write_zip

    archive = write_zip(tmp_path / "ReasonVOS.zip", rv_files)
    assert main(_download("ReasonVOS.zip", tmp_path / "root", archive)) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("name", "build"), _zip_cases())
def test_a_hostile_archive_is_one_line_and_nothing_escapes(rv_files: dict[str, bytes], tmp_path: Path, capsys,
                                                            name: str, build: Callable):
    (tmp_path / "in").mkdir()
    archive = build(tmp_path / "in" / name, rv_files)
    root = tmp_path / "root"
    refused(_download(name, root, archive), capsys, archive.name, watch=tmp_path, outputs=(root,))
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()


def test_extraction_never_writes_through_a_link_already_in_the_target(rv_files, tmp_path: Path, capsys):
    from writers.archives import write_zip

    archive = write_zip(tmp_path / "ReasonVOS.zip", rv_files)
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "ReasonVOS").mkdir(parents=True)
    (root / "ReasonVOS" / "JPEGImages").symlink_to(elsewhere)
    try:
        code = main(_download("ReasonVOS.zip", root, archive))
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"traceback: {type(e).__name__}: {e}")
    err = capsys.readouterr().err
    assert "Traceback" not in err and code in (0, 1)
    if code == 1:
        assert len(err.strip().splitlines()) == 1, err
    assert not any(elsewhere.iterdir()), "extracted through the link, outside the target"


# ----------------------------------------------------------------------- HTTP answers (127.0.0.1)

REFDAVIS_PATHS = (
    "/csergi/share/davis/DAVIS-2017-Unsupervised-trainval-480p.zip",
    "/csergi/share/davis/DAVIS-2017_semantics-480p.zip",
    "/fileadmin/inf/d2/khoreva/davis_text_annotations.zip",
    "/fileadmin/inf/d2/Research/OneVOS/davis_text_annotations.zip",
)


@pytest.fixture
def http(monkeypatch) -> Iterator:
    """The download tests' local server; Ref-DAVIS's hosts (and only they) are sent to it."""
    import requests
    from support.http_server import FileServer

    server = FileServer()
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, **kwargs):
        for host in ("https://data.vision.ee.ethz.ch", "https://www.mpi-inf.mpg.de"):
            if request.url.startswith(host):
                request.url = server.url + request.url[len(host):]
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    yield server
    server.close()


def _http_cases() -> list:
    from writers.archives import write_zip_symlink

    rng = np.random.default_rng(SEED)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("../escaped.txt", b"x")
    return [
        pytest.param("not-found", None, {}, id="404"),
        pytest.param("server-error", b"x", {"fail_status": 500, "fail_times": 99}, id="500"),
        pytest.param("html", b"<!DOCTYPE html><html>Too many users</html>", {"content_type": "text/html"}, id="html"),
        pytest.param("random", rng.bytes(4000), {}, id="random-bytes"),
        pytest.param("cut", zipped.getvalue() * 50, {"cut_after": 100, "cut_times": 99}, id="cut-mid-body"),
        pytest.param("traversal", zipped.getvalue(), {}, id="zip-with-dot-dot"),
        pytest.param("symlink", write_zip_symlink, {}, id="zip-with-symlink-out"),
    ]


@pytest.mark.parametrize(("case", "body", "behaviour"), _http_cases())
def test_a_hostile_http_answer_is_one_line_and_nothing_escapes(http, tmp_path: Path, capsys, case: str, body,
                                                               behaviour: dict):
    from support.http_server import Behaviour

    if callable(body):
        body = body(tmp_path / "link.zip", "DAVIS/x", "../../outside").read_bytes()
    for path in REFDAVIS_PATHS:
        if body is not None:
            http.files[path] = body
        http.behaviour[path] = Behaviour(**behaviour)
    root = tmp_path / "root"
    refused(["download", "refdavis", "--root", str(root), "--accept-licence", "--quiet", "--attempts", "1",
             "--no-validate"], capsys, watch=tmp_path, outputs=(root,))
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "outside").exists()


# --------------------------------------------------------------------------------- video frames


def jpeg_declaring(height: int, width: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is patched to declare ``height`` x ``width``."""
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture
def frame_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)).save(folder / f"{i:05d}.jpg")
    return folder


def _segment(video: Path, out: Path) -> list[str]:
    return ["segment", "--model", "empty", "--video", str(video), "--text", "the cat", "--out", str(out),
            "--overlay", "gif"]


def test_a_valid_frame_folder_segments(frame_folder: Path, tmp_path: Path, capsys):
    assert main(_segment(frame_folder, tmp_path / "out")) == 0, capsys.readouterr().err


FRAME_CASES = {
    "cut": (lambda valid: valid[: len(valid) // 3], "does not decode"),
    "empty": (lambda valid: b"", "empty"),
    "html": (lambda valid: b"<!DOCTYPE html><html>not a frame</html>", "HTML"),
    "random": (lambda valid: np.random.default_rng(SEED).bytes(3000), "does not decode"),
    "declares-20000x20000": (lambda valid: jpeg_declaring(20000, 20000), "pixels"),
    "declares-9000x9000": (lambda valid: jpeg_declaring(9000, 9000), "9000x9000"),
}


@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("case", [*FRAME_CASES, *SPECIAL])
def test_a_hostile_frame_is_one_line_naming_it(frame_folder: Path, tmp_path: Path, capsys, case: str, position: int):
    bad = frame_folder / f"{position:05d}.jpg"
    if case in SPECIAL:
        make_special(bad, case)
        words = ""
    else:
        make, words = FRAME_CASES[case]
        bad.write_bytes(make(bad.read_bytes()))
    out = tmp_path / "out"
    err = refused(_segment(frame_folder, out), capsys, bad.name, watch=tmp_path, outputs=(out,))
    assert words in err


@pytest.mark.parametrize("case", ["random", "empty", *SPECIAL])
def test_a_hostile_video_file_is_one_line_naming_it(tmp_path: Path, capsys, case: str):
    video = tmp_path / "clip.mp4"
    if case in SPECIAL:
        video.touch()
        make_special(video, case)
    else:
        video.write_bytes(np.random.default_rng(SEED).bytes(3000) if case == "random" else b"")
    out = tmp_path / "out"
    refused(_segment(video, out), capsys, video.name, watch=tmp_path, outputs=(out,))


# --------------------------------------------------------------------------- messages, processes


def test_an_infinite_metric_is_named_as_such_not_as_a_percentage(tmp_path: Path, capsys):
    obj = results_file()
    obj["summary"]["J"] = float("inf")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(obj))  # Python writes Infinity, and reads it back
    err = refused(_leaderboard(tmp_path, path), capsys, path.name)
    assert "not a finite number" in err and "percentages" not in err


def test_a_jpeg_named_png_is_refused_naming_its_format_though_its_values_are_binary(rv_copy: Path, capsys):
    bad = first_pred(rv_copy)
    bad.write_bytes(as_jpeg(np.zeros((24, 32), bool)))
    err = refused(score_rv(rv_copy), capsys, report=True)
    assert f"{bad}: not a PNG: the file is a JPEG image" in err


def test_a_real_process_prints_one_line(rv_copy: Path, tmp_path: Path):
    """Three cases as the user sees them: a separate process, its stderr, its exit status."""
    first_gt(rv_copy).write_bytes(png_declaring(20000, 20000)[:20])
    meta = tmp_path / "meta.json"
    meta.write_bytes(b'{"x": ' + b"[" * 100_000)
    os.mkfifo(tmp_path / "fifo.json")
    runs = [score_rv(rv_copy), ["leaderboard", str(meta), "--out", str(tmp_path / "b")],
            ["leaderboard", str(tmp_path / "fifo.json"), "--out", str(tmp_path / "b")]]
    for argv in runs:
        proc = subprocess.run([sys.executable, "-m", "reasonvos", *argv], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 1, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("reasonvos: error:"), proc.stderr


# ------------------------------------------------------------------------------------ validate


def _validate_cases() -> list:
    files = [(name, rel, kind) for name, (_a, fs) in METADATA.items() for rel, kind in fs]
    files.append(("mevis", "mevis/valid_u/mask_dict.json", "json"))
    cases = []
    for name, rel, kind in files:
        # (validate looks for the splits whose metadata is a file: a FIFO at Ref-YTVOS's valid
        # metadata makes that split absent, so it is left to `stats`, which reads it by name)
        special = () if name == "refytvos" else ("fifo", "loop")
        for m in (("cut", "huge-integer", "deep-nesting") if kind == "json" else ("not-utf8",)) + special:
            cases.append(pytest.param(name, rel, kind, m, id=f"{name}-{Path(rel).name}-{m}"))
    return cases


def _validated(argv: list[str], capsys, name: str) -> str:
    """``validate`` prints its grouped report on stdout: exit 1, no traceback, the file named."""
    try:
        code = main(argv)
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"traceback instead of a report: {type(e).__name__}: {e}")
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err + out.out, out.out + out.err
    assert name in out.out + out.err
    return out.out + out.err


@pytest.mark.parametrize(("name", "rel", "kind", "mutation"), _validate_cases())
def test_validate_reports_hostile_metadata_without_a_traceback(benchmarks: Path, tmp_path: Path, capsys,
                                                               name: str, rel: str, kind: str, mutation: str):
    root = tmp_path / name
    shutil.copytree(benchmarks / name, root, symlinks=True)
    path = root / rel
    if mutation in SPECIAL:
        make_special(path, mutation)
    else:
        text = path.read_text(encoding="utf-8-sig" if kind == "text" else "utf-8")
        path.write_bytes((json_mutations(text) if kind == "json" else text_mutations(text))[mutation])
    before = files_under(tmp_path)
    split = ["--split", "val"] if name == "davis" else []
    _validated(["validate", name, "--root", str(root), "--workers", "1", *split], capsys, path.name)
    assert files_under(tmp_path) == before


@pytest.mark.parametrize(("data", "words"), [
    pytest.param(png_declaring(20000, 20000), "20000x20000", id="declares-20000x20000"),
    pytest.param(png_declaring(20000, 20000)[:20], "", id="cut-to-20-bytes"),
    pytest.param(as_jpeg(np.zeros((24, 32), bool)), "JPEG", id="jpeg-named-png"),
])
def test_validate_deep_reports_a_hostile_ground_truth_png(rv_copy: Path, capsys, data: bytes, words: str):
    bad = first_gt(rv_copy)
    bad.write_bytes(data)
    report = _validated(["validate", "reasonvos", "--root", str(rv_copy / "root"), "--deep", "--workers", "1"],
                        capsys, bad.name)
    assert words in report
