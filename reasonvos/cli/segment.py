"""``reasonvos segment --model videolisa --video PATH --text "..." --out DIR [--overlay [mp4|gif]]``.

A shell over :func:`reasonvos.inference.segment_video.segment_video`. The model's flags depend on
``--model``, so this command parses its own arguments once the model is known.
"""

from __future__ import annotations

import argparse

from reasonvos.cli._model_options import add_option_flags, options_from_args
from reasonvos.errors import InputError
from reasonvos.inference import model_registry


def register(subparsers) -> None:
    # Everything after "segment" is collected raw and parsed in run(), once --model is known.
    parser = subparsers.add_parser(
        "segment", help="segment one video (file or frame folder) from a text instruction",
        prefix_chars="\x00", add_help=False)
    parser.add_argument("argv", nargs="*")
    parser.set_defaults(func=run)


def build_parser(model: str) -> argparse.ArgumentParser:
    """The full parser for ``model`` (its own options included)."""
    names = model_registry.names()
    parser = argparse.ArgumentParser(
        prog="reasonvos segment",
        description="Segment one video from a text instruction; write 0/255 mask PNGs named by frame "
                    "and optionally an overlay video.")
    parser.add_argument("--model", default="videolisa", choices=sorted(names),
                        help="model from the infer registry (default videolisa)")
    parser.add_argument("--video", required=True, help="video file (mp4, avi, ...) or a folder of frames")
    parser.add_argument("--text", required=True, help="the instruction, used as the query as given")
    parser.add_argument("--out", required=True, help="output folder: masks/ and overlay.*")
    parser.add_argument("--overlay", nargs="?", const="mp4", choices=["mp4", "gif"], default=None,
                        help="also write an overlay video (mp4 by default, or gif)")
    parser.add_argument("--fps", type=float, default=None,
                        help="overlay frame rate (default: the video's, or 10 for frame folders)")
    parser.set_defaults(model=model)
    if model in names:
        error = model_registry.unavailable_reason(model)
        if error is not None:
            spec = model_registry.get(model)
            raise InputError(None, f"model {model!r} is not available: {spec.options} cannot be imported ({error})")
        add_option_flags(parser, model_registry.options_class(model))
    return parser


def run(args: argparse.Namespace) -> int:
    from reasonvos.inference.segment_video import segment_video

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model", default="videolisa")
    known, _ = pre.parse_known_args(args.argv)
    opts = build_parser(known.model).parse_args(args.argv)
    options = options_from_args(model_registry.options_class(opts.model), opts, opts.model)
    result = segment_video(opts.model, opts.video, opts.text, opts.out, overlay=opts.overlay, fps=opts.fps,
                           options=vars(options))
    print(f"{opts.model}: {len(result.frames)} masks -> {result.masks}"
          + (f", overlay -> {result.overlay}" if result.overlay else ""))
    return 0
