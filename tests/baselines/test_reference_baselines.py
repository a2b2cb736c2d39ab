"""Weight-free reference baselines: right shapes, oracles start from the ground truth, and the
flow oracle is far above the floors on the sample benchmark."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from reasonvos.baselines.reference import (
    REFERENCE_MODELS,
    EmptyFloor,
    FlowOracle,
    FullFrameFloor,
    StaticFirstFrame,
)

import reasonvos
from reasonvos.cli._model_options import add_option_flags, options_from_args
from reasonvos.demo.render import write_sample_benchmark
from reasonvos.errors import InputError
from reasonvos.inference import model_registry


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return reasonvos.load_benchmark("reasonvos", write_sample_benchmark(tmp_path_factory.mktemp("sample")))


@pytest.fixture(scope="module")
def gts(bench) -> dict[str, list[np.ndarray]]:
    return {s.key: [m for _, m in bench.gt_masks(s)] for s in bench.samples}


def mean_j(bench, gts, model) -> float:
    """Mean over samples of the mean per-frame IoU (empty vs empty = 1), as the expression protocol."""
    per_sample = []
    for s in bench.samples:
        preds = list(model.segment_sample(bench, s))
        js = []
        for gt, pred in zip(gts[s.key], preds, strict=True):
            union = (gt | pred).sum()
            js.append(1.0 if union == 0 else (gt & pred).sum() / union)
        per_sample.append(np.mean(js))
    return float(np.mean(per_sample))


@pytest.mark.parametrize("name", sorted(REFERENCE_MODELS))
def test_one_boolean_mask_per_frame_at_frame_size(bench, name):
    model = REFERENCE_MODELS[name]()
    for sample in bench.samples[::25]:
        masks = list(model.segment_sample(bench, sample))
        assert len(masks) == len(bench.prediction_frames(sample))
        assert all(m.dtype == bool and m.shape == (120, 160) for m in masks)


def test_roles_mark_oracles_and_floors(bench):
    """The role a model declares is what it does: an oracle cannot run without the ground truth
    (only a sample carries it), a floor segments any video from its text alone."""
    video = bench.videos["3f2a9c1e"]
    roles = {}
    for name, cls in REFERENCE_MODELS.items():
        model = cls()
        roles[name] = model.describe()["role"]
        if roles[name] == "oracle":
            with pytest.raises(InputError, match="oracle"):
                next(iter(model.segment(video, "the red square")))
        else:
            assert roles[name] == "floor"
            assert len(list(model.segment(video, "the red square"))) == len(video.frames)
    assert {roles[FlowOracle.name], roles[StaticFirstFrame.name]} == {"oracle"}
    assert {roles[EmptyFloor.name], roles[FullFrameFloor.name]} == {"floor"}


def test_flow_oracle_scores_far_above_the_floors(bench, gts):
    flow = mean_j(bench, gts, FlowOracle())
    static = mean_j(bench, gts, StaticFirstFrame())
    empty = mean_j(bench, gts, EmptyFloor())
    assert flow > 0.45
    assert flow > static + 0.1
    assert flow > empty + 0.35


def test_oracles_start_on_the_first_frame_where_the_object_is_visible(bench):
    entering = next(s for s in bench.samples
                    if not bench.gt_mask(s, bench.videos[s.video_id].frames[0]).any())
    gt = [m for _, m in bench.gt_masks(entering)]
    start = next(i for i, m in enumerate(gt) if m.any())
    for model in (FlowOracle(), StaticFirstFrame()):
        preds = list(model.segment_sample(bench, entering))
        assert not any(p.any() for p in preds[:start])
        assert np.array_equal(preds[start], gt[start])


def test_static_oracle_repeats_the_first_mask(bench):
    sample = bench.samples[0]
    preds = list(StaticFirstFrame().segment_sample(bench, sample))
    assert all(np.array_equal(p, preds[0]) for p in preds)


def test_flow_oracle_follows_a_moving_shape(bench):
    """The red square of 3f2a9c1e moves ~4 px per frame; after 4 frames a static copy has drifted
    off it while the propagated mask still overlaps it well."""
    sample = next(s for s in bench.samples_of("3f2a9c1e") if s.obj_ids == ("1",) and s.exp_id == "0")
    gt = [m for _, m in bench.gt_masks(sample)]
    flow = list(FlowOracle().segment_sample(bench, sample))
    static = list(StaticFirstFrame().segment_sample(bench, sample))

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    assert iou(flow[4], gt[4]) > iou(static[4], gt[4]) + 0.2


def test_floors_are_constant(bench):
    video = bench.videos["3f2a9c1e"]
    assert not any(m.any() for m in EmptyFloor().segment(video, "anything"))
    assert all(m.all() for m in FullFrameFloor().segment(video, "anything"))


def test_oracles_refuse_to_run_without_ground_truth(bench):
    with pytest.raises(InputError, match="oracle"):
        next(FlowOracle().segment(bench.videos["3f2a9c1e"], "the red square"))


def _cli_args(model: str, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.set_defaults(model=model)
    add_option_flags(parser, model_registry.options_class(model))
    return parser.parse_args(list(argv))


def build_model(args: argparse.Namespace):
    """What ``reasonvos infer`` does with the parsed flags."""
    options = options_from_args(model_registry.options_class(args.model), args, args.model)
    return reasonvos.load_model(args.model, **vars(options))


def test_cli_glue_builds_each_model_and_checks_flow_options():
    for name, cls in REFERENCE_MODELS.items():
        assert type(build_model(_cli_args(name))) is cls
    model = build_model(_cli_args("flow-oracle", "--flow-winsize", "9", "--flow-levels", "2"))
    assert (model.params.winsize, model.params.levels) == (9, 2)
    with pytest.raises(SystemExit):  # flow options exist only for the flow oracle
        _cli_args("empty", "--flow-winsize", "9")
    with pytest.raises(InputError, match="flow-winsize"):
        build_model(_cli_args("flow-oracle", "--flow-winsize", "1"))


def test_load_model_takes_the_options_as_keywords_and_names_a_bad_one():
    model = reasonvos.load_model("flow-oracle", flow_winsize=9)
    assert model.params.winsize == 9 and model.params.levels == FlowOracle().params.levels
    assert type(reasonvos.load_model("empty")) is EmptyFloor
    with pytest.raises(TypeError, match="winsize"):  # not an option of flow-oracle (it is flow_winsize)
        reasonvos.load_model("flow-oracle", winsize=9)
    with pytest.raises(TypeError, match="flow_winsize"):
        reasonvos.load_model("flow-oracle", flow_winsize="9")
    with pytest.raises(TypeError, match="flow_winsize"):
        reasonvos.load_model("empty", flow_winsize=9)
    with pytest.raises(InputError, match="flow_winsize"):
        reasonvos.load_model("flow-oracle", flow_winsize=1)
    with pytest.raises(InputError, match="unknown model 'no-such-model'"):
        reasonvos.load_model("no-such-model")
