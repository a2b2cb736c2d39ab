"""Build a ReasonVOS-style benchmark from MOSE, MeViS, VIPSeg and BURST plus an instruction file.

ReasonVOS reuses the masks of four source datasets and adds instructions (docs/formats.md#reasonvos-counts).
:func:`build_reasonvos` does the same for any instruction file and writes the current ReasonVOS
layout exactly (docs/formats.md#reasonvos-layout)::

    <out>/meta_expressions.json                               {"videos": {<video>: {source, frames, expressions}}}
    <out>/JPEGImages/<video>/<frame>.jpg                      copied or hard-linked, source names kept
    <out>/Annotations/<source>_<video>_<obj_id>/<frame>.png   0/255 masks on the annotated frames
    <out>/manifest.sha256                                     sha256 of every other file, sorted by path

``--sources`` holds one folder per source, laid out as :mod:`reasonvos.construct.source_datasets` describes:
``mose/``, ``mevis/``, ``vipseg/``, ``burst/`` (only those the instructions use are opened).

The build is deterministic (sorted JSON keys, fixed indentation, the same PNG encoder, sorted
manifest), so the same inputs give byte-identical outputs. It is resumable: every image and mask
folder is written to a temporary folder and renamed into place, so a folder that exists is
complete and a re-run skips it; the metadata and the manifest come last and are rewritten only
when their bytes change. It ends by validating what it built.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from reasonvos.construct.instruction_file import (
    Instruction,
    InstructionError,
    check_against_sources,
    read_instructions,
)
from reasonvos.construct.source_datasets import SourceReader, open_source
from reasonvos.errors import InputError, MaskError, MissingFileError
from reasonvos.fileio import atomic_dir, write_bytes_atomic
from reasonvos.masks import png_size, write_binary_png
from reasonvos.outputs import MARKER, OutputFolder, check_outputs, claim_folder

META_NAME = "meta_expressions.json"
MANIFEST_NAME = "manifest.sha256"
TOP_LEVEL = frozenset({META_NAME, MANIFEST_NAME, "JPEGImages", "Annotations", MARKER})
#: leftovers of an interrupted atomic write (fileio.atomic_path / atomic_dir); safe to remove
_LEFTOVER = re.compile(r"^\..+\.(tmp|old)$")


@dataclass
class MaskPlan:
    """One output mask folder: an object of a video on the video's annotated frames."""

    source: str
    video: str
    obj_id: str
    frames: list[str]
    line: int  # first instruction line naming the object (for error messages)

    @property
    def folder(self) -> str:
        return f"{self.source}_{self.video}_{self.obj_id}"


@dataclass
class VideoPlan:
    source: str
    video: str
    frames: list[str]
    expressions: list[Instruction] = field(default_factory=list)
    masks: dict[str, MaskPlan] = field(default_factory=dict)


@dataclass
class BuildResult:
    """What a build did: sizes of the benchmark and how much of it this run wrote."""

    out: Path
    videos: int
    samples: int
    mask_folders: int
    frames: int
    folders_written: int
    folders_skipped: int
    files_written: int
    validated_with: str


def _open_readers(sources: Path, kinds: set[str]) -> dict[str, SourceReader]:
    readers = {}
    for kind in sorted(kinds):
        folder = sources / kind
        if not folder.is_dir():
            raise MissingFileError(folder, f"source folder not found (the instructions use {kind})")
        readers[kind] = open_source(kind, folder)
    return readers


def plan_build(instructions: list[Instruction], readers: dict[str, SourceReader], path: Path) -> dict[str, VideoPlan]:
    """Decide every output video's frames and every mask folder's frames before writing anything."""
    plans: dict[str, VideoPlan] = {}
    for ins in instructions:
        reader = readers[ins.source]
        if ins.video not in plans:
            frames = reader.frames(ins.video)
            if ins.frames is not None:
                wanted = set(ins.frames)
                frames = [f for f in frames if f in wanted]
            plans[ins.video] = VideoPlan(ins.source, ins.video, frames)
        plan = plans[ins.video]
        plan.expressions.append(ins)
        if ins.obj_id not in plan.masks:
            annotated = set(reader.annotated_frames(ins.video))
            mask_frames = [f for f in plan.frames if f in annotated]
            if not mask_frames:
                raise InstructionError(
                    path, f"line {ins.line}: {ins.source} video {ins.video!r} has no annotated frame among its frames"
                )
            plan.masks[ins.obj_id] = MaskPlan(ins.source, ins.video, ins.obj_id, mask_frames, ins.line)
    return dict(sorted(plans.items()))


def meta_json(plans: dict[str, VideoPlan]) -> bytes:
    """The ``meta_expressions.json`` bytes: sorted keys and fixed indentation (deterministic)."""
    videos = {
        name: {
            "source": plan.source,
            "frames": plan.frames,
            "expressions": [
                {"obj_id": e.obj_id, "exp_id": e.exp_id, "exp_text": e.text, "is_sent": e.is_sent}
                for e in plan.expressions
            ],
        }
        for name, plan in plans.items()
    }
    return (json.dumps({"videos": videos}, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _check_out(out: Path, plans: dict[str, VideoPlan]) -> None:
    """Refuse an output folder holding anything but an earlier build of the same plan;
    remove the temporary leftovers of an interrupted build."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(out, "output path exists and is not a folder")
    expected = {
        "JPEGImages": set(plans),
        "Annotations": {m.folder for p in plans.values() for m in p.masks.values()},
    }
    for entry in sorted(out.iterdir()):
        if _LEFTOVER.match(entry.name):
            _remove(entry)
        elif entry.name not in TOP_LEVEL:
            raise InputError(entry, "not part of a ReasonVOS build; use an empty or new --out folder")
    for sub, names in expected.items():
        folder = out / sub
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if _LEFTOVER.match(entry.name):
                _remove(entry)
            elif entry.name not in names:
                raise InputError(
                    entry, "left over from a build with other instructions; remove it or use a new --out folder"
                )


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _place(src: Path, dst: Path, link: bool) -> None:
    """Hard-link when asked and possible (same device), else copy the bytes."""
    if link:
        try:
            os.link(src, dst)
            return
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
    shutil.copyfile(src, dst)


def _complete(folder: Path, names: list[str]) -> bool:
    """A folder renamed into place is complete; it is reused when it holds exactly ``names``."""
    if not folder.is_dir():
        return False
    return sorted(p.name for p in folder.iterdir()) == sorted(names)


def _write_images(reader: SourceReader, plan: VideoPlan, target: Path, link: bool) -> int:
    with atomic_dir(target) as tmp:
        for frame in plan.frames:
            src = reader.image_path(plan.video, frame)
            if not src.is_file():
                raise MissingFileError(src, f"{plan.source} frame {frame!r} of video {plan.video!r} not found")
            if src.suffix.lower() not in (".jpg", ".jpeg"):
                raise InputError(src, "not a JPEG file name; the ReasonVOS layout stores frames as <frame>.jpg")
            _place(src, tmp / f"{frame}.jpg", link)
    return len(plan.frames)


def _write_masks(reader: SourceReader, mplan: MaskPlan, target: Path, sizes: Callable[[str], tuple[int, int]]) -> int:
    wanted = set(mplan.frames)
    written: list[str] = []
    visible = False
    with atomic_dir(target) as tmp:
        for frame, mask in reader.masks(mplan.video, mplan.obj_id):
            if frame not in wanted:
                continue
            size = sizes(frame)
            if mask.shape != size:
                raise MaskError(
                    reader.root,
                    f"{mplan.source} video {mplan.video!r} object {mplan.obj_id!r} frame {frame!r}: mask is "
                    f"{mask.shape[0]}x{mask.shape[1]} but the image is {size[0]}x{size[1]}",
                )
            visible = visible or bool(np.any(mask))
            write_binary_png(tmp / f"{frame}.png", mask)
            written.append(frame)
        if written != mplan.frames:
            raise MaskError(
                reader.root,
                f"{mplan.source} video {mplan.video!r} object {mplan.obj_id!r}: the reader gave masks for "
                f"{len(written)} of {len(mplan.frames)} annotated frames",
            )
        if not visible:
            raise InputError(
                reader.root,
                f"{mplan.source} video {mplan.video!r} object {mplan.obj_id!r} (instruction line {mplan.line}) "
                "is not visible in any selected frame",
            )
    return len(written)


def manifest_text(out: Path) -> str:
    """``<sha256>  <path>`` for every file under ``out`` except the manifest, sorted by path."""
    lines = []
    for path in sorted(_files(out), key=lambda p: p.relative_to(out).as_posix()):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        lines.append(f"{digest.hexdigest()}  {path.relative_to(out).as_posix()}\n")
    return "".join(lines)


def _files(out: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or (Path(dirpath) == out and name == MANIFEST_NAME):
                continue
            files.append(Path(dirpath) / name)
    return files


def _write_if_changed(path: Path, data: bytes) -> int:
    if path.is_file() and path.read_bytes() == data:
        return 0
    write_bytes_atomic(path, data)
    return 1


def check_build(out: Path, plans: dict[str, VideoPlan]) -> str:
    """Validate the result with ``reasonvos validate`` (errors abort; count warnings are expected,
    a build is a subset of the published benchmark), then load it as a ReasonVOS benchmark and
    check that every sample's mask frames and images are the planned ones."""
    from reasonvos.benchmarks.reasonvos import SPEC
    from reasonvos.validation import validate

    report = validate(SPEC.name, out)
    if report.errors:
        first = report.errors[0]
        raise InputError(
            out, f"the built benchmark does not validate ({len(report.errors)} errors; first: "
            f"[{first.kind}] {first.where}: {first.message})"
        )
    used = report.verdict()
    bench = SPEC.load(out)
    expected_samples = sum(len(p.expressions) for p in plans.values())
    if len(bench.samples) != expected_samples or set(bench.videos) != set(plans):
        raise InputError(out, f"built benchmark has {len(bench.samples)} samples, expected {expected_samples}")
    for sample in bench.samples:
        mplan = plans[sample.video_id].masks[sample.obj_ids[0]]
        if list(bench.scored_frames(sample)) != mplan.frames:
            raise InputError(out / "Annotations" / mplan.folder, "mask frames differ from the plan")
        video = bench.videos[sample.video_id]
        if list(video.frames) != plans[sample.video_id].frames:
            raise InputError(out / META_NAME, f"frames of {sample.video_id!r} differ from the plan")
    for video in bench.videos.values():
        for frame in video.frames:
            if not video.image_path(frame).is_file():
                raise MissingFileError(video.image_path(frame), "built image missing")
    return used


def build_reasonvos(
    sources: str | Path, instructions: str | Path, out: str | Path, link: bool = False, quiet: bool = False
) -> BuildResult:
    """Build (or resume building) a ReasonVOS-style benchmark in ``out``; see the module docstring."""
    sources, instructions, out = Path(sources), Path(instructions), Path(out)
    if not sources.is_dir():
        raise MissingFileError(sources, "sources folder not found")
    # --out is new, empty or an earlier build (its marker says so): never a downloaded benchmark or
    # another folder of the user's, whose meta_expressions.json a build would replace
    check_outputs([OutputFolder(out, "--out", "build")], inputs=[sources, instructions])
    lines = read_instructions(instructions)
    readers = _open_readers(sources, {i.source for i in lines})
    check_against_sources(lines, readers, instructions)
    plans = plan_build(lines, readers, instructions)
    claim_folder(out, "build")
    _check_out(out, plans)

    todo_images = {n for n, p in plans.items() if not _complete(out / "JPEGImages" / n, [f"{f}.jpg" for f in p.frames])}
    todo_masks = {
        m.folder for p in plans.values() for m in p.masks.values()
        if not _complete(out / "Annotations" / m.folder, [f"{f}.png" for f in m.frames])
    }
    if (todo_images or todo_masks) and (out / MANIFEST_NAME).exists():
        # the contents are about to change: an interrupted run must not leave a manifest that looks final
        (out / MANIFEST_NAME).unlink()
    units = len(plans) + sum(len(p.masks) for p in plans.values())
    written_folders = files = 0
    with tqdm(total=units, desc="build reasonvos", unit="folder", disable=quiet) as bar:
        for name, plan in plans.items():
            reader = readers[plan.source]
            img_dir = out / "JPEGImages" / name
            if name in todo_images:
                files += _write_images(reader, plan, img_dir, link)
                written_folders += 1
            bar.update()
            size_cache: dict[str, tuple[int, int]] = {}

            def size_of(frame: str, _dir: Path = img_dir, _cache: dict = size_cache) -> tuple[int, int]:
                if frame not in _cache:
                    _cache[frame] = png_size(_dir / f"{frame}.jpg")
                return _cache[frame]

            for mplan in plan.masks.values():
                if mplan.folder in todo_masks:
                    files += _write_masks(reader, mplan, out / "Annotations" / mplan.folder, size_of)
                    written_folders += 1
                bar.update()
    files += _write_if_changed(out / META_NAME, meta_json(plans))
    files += _write_if_changed(out / MANIFEST_NAME, manifest_text(out).encode("utf-8"))
    used = check_build(out, plans)
    return BuildResult(
        out=out,
        videos=len(plans),
        samples=len(lines),
        mask_folders=sum(len(p.masks) for p in plans.values()),
        frames=sum(len(p.frames) for p in plans.values()),
        folders_written=written_folders,
        folders_skipped=units - written_folders,
        files_written=files,
        validated_with=used,
    )
