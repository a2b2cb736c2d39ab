"""The instruction file is JSON Lines; every mistake is reported with its line number."""

from __future__ import annotations

import pytest
from writers.sources import DEFAULT_INSTRUCTIONS, write_instructions, write_sources

from reasonvos.construct.instruction_file import InstructionError, check_against_sources, read_instructions
from reasonvos.construct.source_datasets import open_source
from reasonvos.errors import InputError

GOOD = {"source": "mose", "video": "001ca3cb", "obj_id": "2", "text": "the dog", "kind": "short"}


@pytest.fixture(scope="module")
def readers(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    write_sources(root)
    return {kind: open_source(kind, root / kind) for kind in ("mose", "mevis", "vipseg", "burst")}


def error_for(tmp_path, lines, readers=None):
    path = write_instructions(tmp_path / "i.jsonl", lines)
    with pytest.raises(InstructionError) as info:
        ins = read_instructions(path)
        if readers is not None:
            check_against_sources(ins, readers, path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_defaults_exp_id_per_video_and_shares_frame_subsets(tmp_path, readers):
    path = write_instructions(tmp_path / "i.jsonl", DEFAULT_INSTRUCTIONS)
    ins = read_instructions(path)
    check_against_sources(ins, readers, path)
    assert [i.exp_id for i in ins[:3]] == ["0", "1", "7"]
    assert [i.line for i in ins] == list(range(1, len(DEFAULT_INSTRUCTIONS) + 1))
    burst = [i for i in ins if i.source == "burst"]
    assert all(i.frames == ("frame0001", "frame0006") for i in burst)
    assert [i.is_sent for i in ins[:2]] == [False, True]


def test_blank_lines_are_allowed_and_keep_line_numbers(tmp_path):
    path = write_instructions(tmp_path / "i.jsonl", ["", GOOD])
    assert read_instructions(path)[0].line == 2


def test_bad_json(tmp_path):
    assert "line 2: bad JSON" in error_for(tmp_path, [GOOD, '{"source": "mose",'])


def test_not_an_object(tmp_path):
    assert "line 1: expected a JSON object" in error_for(tmp_path, ["[1, 2]"])


def test_unknown_source(tmp_path):
    assert "line 1: unknown source 'davis'" in error_for(tmp_path, [{**GOOD, "source": "davis"}])


def test_bad_kind(tmp_path):
    assert "line 2: bad kind 'medium'" in error_for(tmp_path, [GOOD, {**GOOD, "kind": "medium", "text": "x"}])


def test_empty_text(tmp_path):
    assert "line 1: empty 'text'" in error_for(tmp_path, [{**GOOD, "text": "   "}])


def test_missing_field(tmp_path):
    line = {k: v for k, v in GOOD.items() if k != "obj_id"}
    assert "line 1: missing 'obj_id'" in error_for(tmp_path, [line])


def test_obj_id_must_be_a_string(tmp_path):
    assert "line 1: 'obj_id' must be a string, found int" in error_for(tmp_path, [{**GOOD, "obj_id": 2}])


def test_several_objects_are_refused(tmp_path):
    line = {**{k: v for k, v in GOOD.items() if k != "obj_id"}, "obj_ids": ["1", "2"]}
    assert "line 1: 'obj_ids' is not supported" in error_for(tmp_path, [line])


def test_unknown_field(tmp_path):
    assert "line 1: unknown field(s) 'txt'" in error_for(tmp_path, [{**GOOD, "txt": "typo"}])


def test_duplicate_sample_by_exp_id(tmp_path):
    lines = [{**GOOD, "exp_id": "3"}, {**GOOD, "exp_id": "3", "text": "another"}]
    assert "line 2: duplicate sample (same object and exp_id '3' as line 1)" in error_for(tmp_path, lines)


def test_duplicate_sample_by_text(tmp_path):
    lines = [GOOD, {**GOOD, "kind": "long"}]
    assert "line 2: duplicate sample (same object and text as line 1)" in error_for(tmp_path, lines)


def test_same_video_name_from_two_sources(tmp_path):
    msg = error_for(tmp_path, [GOOD, {**GOOD, "source": "mevis", "text": "y"}])
    assert "line 2: video '001ca3cb' comes from mevis here but from mose on line 1" in msg


def test_conflicting_frame_subsets(tmp_path):
    lines = [{**GOOD, "frames": ["00000"]}, {**GOOD, "text": "y", "frames": ["00001"]}]
    assert "line 2: 'frames' differs from line 1" in error_for(tmp_path, lines)


def test_empty_file(tmp_path):
    assert "no instructions" in error_for(tmp_path, [""])


def test_unknown_video(tmp_path, readers):
    assert "line 2: unknown video 'nope'" in error_for(tmp_path, [GOOD, {**GOOD, "video": "nope"}], readers)


def test_unknown_object(tmp_path, readers):
    msg = error_for(tmp_path, [{**GOOD, "obj_id": "9"}], readers)
    assert "line 1: unknown object '9' in mose video '001ca3cb' (objects: 1, 2, 3)" in msg


def test_vipseg_object_must_be_zero_padded(tmp_path, readers):
    line = {"source": "vipseg", "video": "127_-hIVCYO4C90", "obj_id": "6101", "text": "p", "kind": "short"}
    assert "line 1: unknown object '6101'" in error_for(tmp_path, [line], readers)


def test_unknown_frame(tmp_path, readers):
    assert "line 1: unknown frame '00009'" in error_for(tmp_path, [{**GOOD, "frames": ["00009"]}], readers)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="instruction file not found"):
        read_instructions(tmp_path / "none.jsonl")


@pytest.mark.parametrize("exp_id", ["a/b", "..", "."])
def test_an_instruction_exp_id_must_be_a_folder_name(tmp_path, exp_id):
    """exp_id names the prediction folder ``<source>_<video>_<obj_id>/<exp_id>/``; a built
    benchmark with ``a/b`` or ``..`` there cannot be predicted or scored in its own layout."""
    from writers.sources import write_instructions

    from reasonvos.construct.instruction_file import InstructionError, read_instructions

    line = {"source": "mose", "video": "001ca3cb", "obj_id": "2", "text": "the dog", "kind": "short",
            "exp_id": exp_id}
    path = write_instructions(tmp_path / "i.jsonl", [line])
    with pytest.raises(InstructionError, match="line 1: exp_id"):
        read_instructions(path)
