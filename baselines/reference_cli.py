"""``reasonvos infer`` glue for the weight-free reference baselines.

``reasonvos infer`` sets the sub-command's ``model`` default before calling
:func:`add_model_arguments`, so the flow options are offered only to ``flow-oracle``; and
:func:`build_model` picks the class from ``args.model``.
"""

from __future__ import annotations

import argparse

from reasonvos.errors import InputError
from reasonvos.inference.segmenter import VideoSegmenter

from .reference import REFERENCE_MODELS, FarnebackParams, FlowOracle

#: what ``reasonvos infer --help`` shows per model
DESCRIPTIONS: dict[str, str] = {
    "flow-oracle": "ORACLE (uses ground truth): first visible GT mask propagated by Farneback optical flow",
    "static-oracle": "ORACLE (uses ground truth): first visible GT mask repeated in every frame",
    "empty": "floor: an empty mask in every frame",
    "full-frame": "floor: the whole frame in every frame",
}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the reference model named by the parser's ``model`` default (flow settings)."""
    if parser.get_default("model") != "flow-oracle":
        return
    d = FarnebackParams()
    group = parser.add_argument_group("optical flow (cv2.calcOpticalFlowFarneback)")
    group.add_argument("--flow-levels", type=int, default=d.levels, help="pyramid levels (default %(default)s)")
    group.add_argument("--flow-winsize", type=int, default=d.winsize,
                       help="averaging window in pixels (default %(default)s)")
    group.add_argument("--flow-iterations", type=int, default=d.iterations,
                       help="iterations per pyramid level (default %(default)s)")


def build_model(args: argparse.Namespace) -> VideoSegmenter:
    """The reference model ``args.model`` with the options parsed by :func:`add_model_arguments`."""
    name = getattr(args, "model", None)
    if name not in REFERENCE_MODELS:
        raise InputError(None, f"unknown reference model {name!r}; known: {', '.join(REFERENCE_MODELS)}")
    if name == "flow-oracle":
        levels, winsize, iterations = args.flow_levels, args.flow_winsize, args.flow_iterations
        if levels < 0 or winsize < 3 or iterations < 1:
            raise InputError(None, "flow options: need --flow-levels >= 0, --flow-winsize >= 3, "
                             "--flow-iterations >= 1")
        return FlowOracle(FarnebackParams(levels=levels, winsize=winsize, iterations=iterations))
    return REFERENCE_MODELS[name]()
