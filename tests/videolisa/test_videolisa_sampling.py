"""Sparse-Dense Sampling and the prompt templates, exactly as the released model was run
(docs/models.md#sparse-dense-sampling, docs/models.md#videolisa-prompts). None of this needs torch."""

import argparse
import subprocess
import sys

import pytest
from reasonvos.videolisa.prompts import phi3_prompt, query_for
from reasonvos.videolisa.sampling import (
    dense_positions,
    num_visual_tokens,
    sample_frames,
    sparse_indices,
    uniform_sample,
)


@pytest.mark.parametrize(
    ("n", "first", "dense_frames"),
    [
        (100, [1, 4, 7, 10, 13, 16, 19, 22, 26, 29, 32, 35], [10, 32, 57, 82]),
        (180, [2, 7, 13, 18, 24, 30, 35, 41, 47, 52, 58, 63], [18, 58, 103, 148]),
        (33, [0, 1, 2], [3, 10, 18, 26]),
        (32, [0, 1, 2], [3, 10, 18, 26]),
        (10, [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3], [1, 3, 5, 8]),
        # the formula: 6 each, plus one more for frames 0 and 3 (uniform_sample(5, 2) = [0, 3])
        (5, [0] * 7 + [1] * 6 + [2] * 6 + [3] * 7 + [4] * 6, [0, 1, 2, 4]),
        (1, [0] * 32, [0, 0, 0, 0]),
    ],
)
def test_frame_sampling_matches_the_spec_table(n, first, dense_frames):
    sparse, dense = sample_frames(n)
    assert len(sparse) == 32 and sparse == sorted(sparse)
    assert sparse[: len(first)] == first
    assert [sparse[p] for p in dense] == dense_frames


def test_defaults_are_the_trained_32_and_4_never_50():
    """Without flags, a run samples as the released model was trained: the n=100 row of the table
    above (32 sparse frames, 4 dense), not the released scripts' argparse default of 50
    (docs/models.md#sparse-dense-sampling)."""
    from reasonvos.videolisa.options import VideoLisaOptions

    from reasonvos.cli._model_options import add_option_flags

    parser = argparse.ArgumentParser()
    add_option_flags(parser, VideoLisaOptions)
    args = parser.parse_args([])
    sparse, dense = sample_frames(100, args.num_frames_sparse, args.num_frames_dense)
    assert len(sparse) == 32 and [sparse[p] for p in dense] == [10, 32, 57, 82]


def test_dense_positions_are_inside_the_sparse_list_and_skip_the_last():
    assert dense_positions(32, 4) == [3, 10, 18, 26]
    assert 31 not in dense_positions(32, 4)
    assert dense_positions(8, 2) == [1, 4]
    with pytest.raises(ValueError):
        dense_positions(4, 4)


def test_uniform_sample_takes_integer_bin_midpoints():
    # edges linspace(0, 10, 3) -> [0, 5, 10]: bins [0, 4] and [5, 9]
    assert uniform_sample(10, 2) == [2, 7]
    assert uniform_sample(10, 0) == []


def test_short_videos_repeat_every_frame_then_add_uniform_extras():
    assert sparse_indices(10).count(2) == 4  # 32 // 10 = 3 each, plus extras at frames 2 and 7
    assert sparse_indices(10).count(7) == 4
    with pytest.raises(ValueError):
        sparse_indices(0)


def test_visual_token_count_is_32_pooled_plus_4_full_frames():
    assert num_visual_tokens(576) == 32 + 4 * 576 == 2336
    assert num_visual_tokens(4, 8, 2) == 16


def test_conversation_is_phi3_instruct_with_the_teacher_forced_answer():
    assert phi3_prompt("Q") == (
        "<|system|>\nYou are a helpful AI assistant.<|end|>\n<|user|>\n<image>\nQ<|end|>\n"
        "<|assistant|>\nSure, [SEG].<|end|>"
    )


def test_queries_keep_the_official_quirks():
    assert query_for("reasoning", "Who is hungry?", "long") == "Who is hungry?. Please output the segmentation masks."
    assert query_for("reasoning", "The Cat", "short") == "Please segment the the cat in this scene."
    assert query_for("referring", "A Dog", None) == "Please segment the a dog in this image."
    assert query_for(None, "raw Text") == "raw Text"
    with pytest.raises(ValueError):
        query_for("reasoning", "x", None)
    with pytest.raises(ValueError, match="unknown instruction style"):
        query_for("reasonvos", "x", "long")  # a benchmark name is not a style: refused, not raw text


def test_each_benchmark_gets_the_query_of_its_official_script():
    from reasonvos.benchmarks import registry

    queries = {name: query_for(registry.get(name).instruction_style, "A Dog", "short") for name in registry.names()}
    assert queries == {"reasonvos": "Please segment the a dog in this scene.",
                       "mevis": "Please segment the a dog in this image.",
                       "refytvos": "Please segment the a dog in this image.",
                       "refdavis": "Please segment the a dog in this image.",
                       "davis": "A Dog",
                       "revos": "Please segment the a dog in this scene."}


def test_cli_modules_do_not_import_torch():
    code = ("import sys, reasonvos.videolisa.options, reasonvos.videolisa.sampling, reasonvos.frames, "
            "reasonvos.cli.segment; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
