"""``reasonvos infer MODEL --benchmark NAME --root DIR [--split S] --out DIR [model options]``.

One sub-command per registered model. Each model's CLI module provides
``add_model_arguments(parser)`` and ``build_model(args) -> VideoSegmenter``; the modules are
imported when the parser is built, so they must not import torch at import time. A module that
cannot be imported (not written yet, a missing optional dependency) still gets its sub-command,
marked unavailable in ``--help``, and using it fails with one clear line instead of breaking
every other command. Sharding comes from ``RANK``/``WORLD_SIZE``, so
``torchrun --nproc_per_node=K -m reasonvos infer ...`` splits the videos over K processes.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

from reasonvos.errors import InputError

#: model name -> module with add_model_arguments(parser) and build_model(args)
MODELS: dict[str, str] = {
    "videolisa": "reasonvos.videolisa.cli",
    "lisa": "reasonvos.baselines.lisa_cli",
    "lisa-xmem": "reasonvos.baselines.lisa_xmem_cli",
    "flow-oracle": "reasonvos.baselines.reference_cli",
    "static-oracle": "reasonvos.baselines.reference_cli",
    "empty": "reasonvos.baselines.reference_cli",
    "full-frame": "reasonvos.baselines.reference_cli",
}


#: what ``--help`` says about a model whose module gives no ``DESCRIPTIONS``/``DESCRIPTION``
DEFAULT_HELP: dict[str, str] = {
    "videolisa": "VideoLISA (NeurIPS 2024): sparse/dense frame sampling, one [TRK] token, SAM decoder",
    "lisa": "LISA image model applied to the video's frames",
    "lisa-xmem": "LISA on a key frame, propagated by XMem",
}


def load_model_module(name: str) -> tuple[ModuleType | None, str | None]:
    """(module, None), or (None, why it cannot be imported)."""
    try:
        return importlib.import_module(MODELS[name]), None
    except Exception as e:  # any failure of an optional model module must not break the whole CLI
        return None, f"{type(e).__name__}: {e}"


def _help_for(name: str, module: ModuleType | None) -> str:
    if module is None:
        return f"(unavailable: {MODELS[name]} cannot be imported)"
    described = getattr(module, "DESCRIPTIONS", {}).get(name) or getattr(module, "DESCRIPTION", None)
    if described:
        return described
    if name in DEFAULT_HELP:
        return DEFAULT_HELP[name]
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0] if doc else name


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, help="benchmark name (reasonvos, mevis, refytvos, ...)")
    parser.add_argument("--root", required=True, help="benchmark root folder")
    parser.add_argument("--split", default=None, help="split to run (default: the benchmark's default)")
    parser.add_argument("--out", required=True, help="prediction folder (written in the benchmark's layout)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "infer", help="run a model on a benchmark and write its predictions",
        description="Run a model on a benchmark and write predictions in the benchmark's official layout. "
        "Completed samples are skipped (resume); RANK/WORLD_SIZE shard the videos (torchrun).",
    )
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name in MODELS:
        module, error = load_model_module(name)
        help_text = _help_for(name, module)
        description = help_text if error is None else f"{help_text}\n\nimport error: {error}"
        if module is None:
            # Accept anything (no option prefixes), so that any use reaches run() and its clear error.
            sub = models.add_parser(name, help=help_text, description=description, prefix_chars="\x00",
                                    add_help=False)
            sub.add_argument("model_args", nargs="*")
        else:
            sub = models.add_parser(name, help=help_text, description=description,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(func=run, model=name, model_module=MODELS[name], model_error=error)
        if module is not None:
            _add_common(sub)
            module.add_model_arguments(sub)


def run(args: argparse.Namespace) -> int:
    from reasonvos.benchmarks.registry import load_benchmark
    from reasonvos.inference.runner import run_inference, shard_from_env

    if args.model_error is not None:
        raise InputError(None, f"model {args.model!r} is not available: its module {args.model_module} "
                         f"cannot be imported ({args.model_error})")
    module = importlib.import_module(args.model_module)
    rank, world = shard_from_env()
    benchmark = load_benchmark(args.benchmark, args.root, args.split)
    model = module.build_model(args)
    stats = run_inference(model, benchmark, args.out, rank=rank, world_size=world, quiet=args.quiet)
    role = getattr(model, "role", "model")
    note = " (ORACLE: uses ground truth)" if role == "oracle" else f" ({role})" if role != "model" else ""
    shard = f" [shard {stats.rank + 1}/{stats.world_size}]" if stats.world_size > 1 else ""
    print(f"{model.name}{note} on {benchmark.name} ({len(benchmark.samples)} samples){shard}: "
          f"wrote {stats.written}, skipped {stats.skipped} already complete -> {args.out}")
    return 0
