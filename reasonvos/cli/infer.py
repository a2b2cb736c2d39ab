"""``reasonvos infer MODEL --benchmark NAME --root DIR [--split S] --out DIR [--restart] [model options]``.

One sub-command per model of :mod:`reasonvos.inference.model_registry`; its flags come from the
model's options dataclass through :mod:`reasonvos.cli._model_options`. A model whose options module
cannot be imported (a missing optional dependency) still gets its sub-command, marked unavailable
in ``--help``, and using it fails with one clear line instead of breaking every other command.
Sharding comes from ``RANK``/``WORLD_SIZE``, so ``torchrun --nproc_per_node=K -m reasonvos infer
...`` splits the videos over K processes.
"""

from __future__ import annotations

import argparse

from reasonvos.cli._model_options import add_option_flags, options_from_args
from reasonvos.errors import InputError
from reasonvos.inference import model_registry


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, help="benchmark name (reasonvos, mevis, refytvos, ...)")
    parser.add_argument("--root", required=True, help="benchmark root folder")
    parser.add_argument("--split", default=None, help="split to run (default: the benchmark's default)")
    parser.add_argument("--out", required=True, help="prediction folder (written in the benchmark's layout)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--restart", action="store_true",
                        help="start afresh: remove what an earlier run wrote in --out (refused if the "
                             "folder holds files reasonvos did not write)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "infer", help="run a model on a benchmark and write its predictions",
        description="Run a model on a benchmark and write predictions in the benchmark's official layout. "
        "Completed samples are skipped (resume); RANK/WORLD_SIZE shard the videos (torchrun).",
    )
    models = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name in model_registry.names():
        spec = model_registry.get(name)
        error = model_registry.unavailable_reason(name)
        help_text = spec.help or name if error is None else f"(unavailable: {spec.options} cannot be imported)"
        if error is not None:
            # Accept anything (no option prefixes), so that any use reaches run() and its clear error.
            sub = models.add_parser(name, help=help_text, description=f"{help_text}\n\nimport error: {error}",
                                    prefix_chars="\x00", add_help=False)
            sub.add_argument("model_args", nargs="*")
        else:
            sub = models.add_parser(name, help=help_text, description=help_text,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
            _add_common(sub)
            add_option_flags(sub, model_registry.options_class(name))
        sub.set_defaults(func=run, model=name, model_error=error)


def run(args: argparse.Namespace) -> int:
    from reasonvos.benchmarks.registry import load_benchmark
    from reasonvos.inference.runner import check_resumable, run_inference, shard_from_env

    spec = model_registry.get(args.model)
    if args.model_error is not None:
        raise InputError(None, f"model {args.model!r} is not available: its module {spec.options} "
                         f"cannot be imported ({args.model_error})")
    options = options_from_args(model_registry.options_class(args.model), args, args.model)
    rank, world = shard_from_env()
    benchmark = load_benchmark(args.benchmark, args.root, args.split)
    check_resumable(args.out, benchmark, args.model, options, restart=args.restart)  # before loading weights
    model = model_registry.load_model(args.model, **vars(options))
    stats = run_inference(model, benchmark, args.out, rank=rank, world_size=world, quiet=args.quiet,
                          restart=args.restart)
    role = getattr(model, "role", "model")
    note = " (ORACLE: uses ground truth)" if role == "oracle" else f" ({role})" if role != "model" else ""
    shard = f" [shard {stats.rank + 1}/{stats.world_size}]" if stats.world_size > 1 else ""
    print(f"{model.name}{note} on {benchmark.name} ({len(benchmark.samples)} samples){shard}: "
          f"wrote {stats.written}, skipped {stats.skipped} already complete -> {args.out}")
    for note, counts in stats.notes.items():  # e.g. post-optimisation that left masks unrefined
        print(f"  {note}: " + ", ".join(f"{value} {n}" for value, n in counts.items()))
    return 0
