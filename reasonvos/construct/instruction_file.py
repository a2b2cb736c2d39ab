"""The instruction file that says which source objects a built benchmark asks about, and how.

JSON Lines, one sample per line (blank lines are allowed)::

    {"source": "mose|mevis|vipseg|burst", "video": "<source video name>", "obj_id": "<object id>",
     "text": "<instruction>", "kind": "short|long", "exp_id": "<optional>", "frames": ["<optional stems>"]}

- ``obj_id`` is a string in the source reader's naming (:mod:`reasonvos.construct.source_datasets`): MOSE
  palette index ``"1"``, MeViS per-video ``obj_id`` ``"0"``, VIPSeg 9-digit panoptic value
  ``"000006101"``, BURST track id ``"3"``. ReasonVOS refers to exactly one object per sample (one
  mask folder per object), so ``obj_ids`` lists are refused.
- ``kind``: ``short`` (a phrase, ``is_sent`` false) or ``long`` (a sentence or question).
- ``exp_id`` defaults to the line's running index among its video's lines (0, 1, ...).
- ``frames`` restricts the video to a subset of the source's frames; every line of a video that
  gives ``frames`` must give the same subset, and lines without it share it.

Errors name the file and the line number, because the file is written by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from reasonvos.construct.source_datasets import SOURCES, SourceReader
from reasonvos.errors import MetadataError, MissingFileError

KINDS: tuple[str, ...] = ("short", "long")
FIELDS: frozenset[str] = frozenset({"source", "video", "obj_id", "text", "kind", "exp_id", "frames"})


class InstructionError(MetadataError):
    """A line of the instruction file is malformed or does not match the sources."""


@dataclass(frozen=True)
class Instruction:
    """One validated line of the instruction file."""

    line: int
    source: str
    video: str
    obj_id: str
    text: str
    kind: str
    exp_id: str
    frames: tuple[str, ...] | None = None

    @property
    def is_sent(self) -> bool:
        """ReasonVOS's flag: true for long (sentence/question) instructions."""
        return self.kind == "long"


def _string(value: object, path: Path, line: int, name: str) -> str:
    if not isinstance(value, str):
        raise InstructionError(path, f"line {line}: {name!r} must be a string, found {type(value).__name__}")
    if not value.strip():
        raise InstructionError(path, f"line {line}: empty {name!r}")
    return value


def _parse_line(obj: object, path: Path, line: int) -> dict:
    if not isinstance(obj, dict):
        raise InstructionError(path, f"line {line}: expected a JSON object, found {type(obj).__name__}")
    if "obj_ids" in obj:
        raise InstructionError(
            path, f"line {line}: 'obj_ids' is not supported: a ReasonVOS sample refers to one object ('obj_id')"
        )
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise InstructionError(path, f"line {line}: unknown field(s) {', '.join(map(repr, unknown))}")
    for name in ("source", "video", "obj_id", "text", "kind"):
        if name not in obj:
            raise InstructionError(path, f"line {line}: missing {name!r}")
    source = _string(obj["source"], path, line, "source")
    if source not in SOURCES:
        raise InstructionError(path, f"line {line}: unknown source {source!r} (one of {', '.join(SOURCES)})")
    kind = _string(obj["kind"], path, line, "kind")
    if kind not in KINDS:
        raise InstructionError(path, f"line {line}: bad kind {kind!r} (one of {', '.join(KINDS)})")
    fields = {
        "source": source,
        "video": _string(obj["video"], path, line, "video"),
        "obj_id": _string(obj["obj_id"], path, line, "obj_id"),
        "text": _string(obj["text"], path, line, "text").strip(),
        "kind": kind,
        "exp_id": None if obj.get("exp_id") is None else _string(obj["exp_id"], path, line, "exp_id"),
        "frames": None,
    }
    if "/" in fields["video"] or fields["video"] in (".", ".."):
        raise InstructionError(path, f"line {line}: video name {fields['video']!r} is not a folder name")
    exp_id = fields["exp_id"]
    if exp_id is not None and ("/" in exp_id or exp_id in (".", "..")):
        # it names the prediction folder <source>_<video>_<obj_id>/<exp_id>/
        raise InstructionError(path, f"line {line}: exp_id {exp_id!r} is not a folder name")
    if "frames" in obj and obj["frames"] is not None:
        frames = obj["frames"]
        if not isinstance(frames, list) or not frames:
            raise InstructionError(path, f"line {line}: 'frames' must be a non-empty list of frame names")
        frames = tuple(_string(f, path, line, "frames[]") for f in frames)
        if len(set(frames)) != len(frames):
            raise InstructionError(path, f"line {line}: 'frames' lists a frame twice")
        fields["frames"] = frames
    return fields


def read_instructions(path: str | Path) -> list[Instruction]:
    """Read and check an instruction file on its own (syntax, fields, duplicates, consistency).

    Whether the videos, objects and frames exist is checked by :func:`check_against_sources`.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "instruction file not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise InstructionError(path, f"not valid UTF-8 ({e.reason} at byte {e.start})") from e
    out: list[Instruction] = []
    per_video: dict[str, int] = {}
    source_of: dict[str, tuple[str, int]] = {}
    frames_of: dict[str, tuple[tuple[str, ...], int]] = {}
    seen_ids: dict[tuple[str, str, str, str], int] = {}
    seen_texts: dict[tuple[str, str, str, str], int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InstructionError(path, f"line {number}: bad JSON ({e.msg} at column {e.colno})") from e
        f = _parse_line(obj, path, number)
        video = f["video"]
        if video in source_of and source_of[video][0] != f["source"]:
            other, other_line = source_of[video]
            raise InstructionError(
                path,
                f"line {number}: video {video!r} comes from {f['source']} here but from {other} on line "
                f"{other_line}; output video names must be unique",
            )
        source_of.setdefault(video, (f["source"], number))
        index = per_video.get(video, 0)
        per_video[video] = index + 1
        if f["exp_id"] is None:
            f["exp_id"] = str(index)
        if f["frames"] is not None:
            if video in frames_of and frames_of[video][0] != f["frames"]:
                raise InstructionError(
                    path, f"line {number}: 'frames' differs from line {frames_of[video][1]} for video {video!r}"
                )
            frames_of.setdefault(video, (f["frames"], number))
        ident = (f["source"], video, f["obj_id"], f["exp_id"])
        if ident in seen_ids:
            raise InstructionError(
                path, f"line {number}: duplicate sample (same object and exp_id {f['exp_id']!r} as line {seen_ids[ident]})"
            )
        seen_ids[ident] = number
        text_ident = (f["source"], video, f["obj_id"], f["text"])
        if text_ident in seen_texts:
            raise InstructionError(
                path, f"line {number}: duplicate sample (same object and text as line {seen_texts[text_ident]})"
            )
        seen_texts[text_ident] = number
        out.append(Instruction(line=number, **f))
    if not out:
        raise InstructionError(path, "no instructions (the file is empty)")
    # Lines without 'frames' share the subset another line of the same video gives.
    return [
        i if i.frames is not None or i.video not in frames_of else replace(i, frames=frames_of[i.video][0])
        for i in out
    ]


def check_against_sources(
    instructions: list[Instruction], readers: Mapping[str, SourceReader], path: str | Path
) -> None:
    """Check every line's video, object and frames exist in its source; errors give the line."""
    path = Path(path)
    for ins in instructions:
        reader = readers[ins.source]
        if not reader.has_video(ins.video):
            raise InstructionError(path, f"line {ins.line}: unknown video {ins.video!r} in {ins.source} ({reader.root})")
        objects = reader.objects(ins.video)
        if ins.obj_id not in objects:
            shown = ", ".join(objects[:20]) + (" ..." if len(objects) > 20 else "")
            raise InstructionError(
                path, f"line {ins.line}: unknown object {ins.obj_id!r} in {ins.source} video {ins.video!r} "
                f"(objects: {shown})"
            )
        if ins.frames is not None:
            known = set(reader.frames(ins.video))
            missing = [f for f in ins.frames if f not in known]
            if missing:
                raise InstructionError(
                    path, f"line {ins.line}: unknown frame {missing[0]!r} in {ins.source} video {ins.video!r}"
                )
