"""One-command check of VideoLISA on the real weights and a GPU: what the files say, and what
the SAM batch size and the stages cost.

    python perf/gpu_check.py --checkpoint ZechenBai/VideoLISA-3.8B --clip openai/clip-vit-large-patch14-336 \\
        --benchmark reasonvos --root data/ReasonVOS --limit 10 --out gpu_check.json

1. **The files' facts**, read from the checkpoint folder itself and from what the loader made of
   them: ``sliding_window`` (as saved, and as the model runs it), the tokenizer flags (``legacy``,
   ``add_bos_token``, ``add_eos_token``, ``lstrip``/``rstrip`` of the chat tokens), the ``[SEG]`` id,
   and for every sample the prompt ids and the token before ``[SEG]`` (the model reads the hidden
   state at ``[SEG]``; a tokenizer that merges or splits around it changes every mask).
2. **The same samples twice**, in bf16 by default: with ``--sam-batch-size 1`` and with the batch
   size given (default 4, the toolkit's default). Per sample it records the pixel agreement of the
   two mask sequences (batched GPU kernels may differ in the last bits), the IoU of their union over
   all frames, and the seconds per stage (decode, clip, sam_encode, llm, decode_masks) of each run.
3. Everything goes into one JSON (``--out``), and a summary is printed.

Without ``--checkpoint`` it runs the tiny random model (``--tiny-random 0``), which is how the test
suite checks this script on CPU; the numbers then say nothing about the release.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from reasonvos.videolisa.options import VideoLisaOptions

from reasonvos import load_benchmark, load_model
from reasonvos.benchmarks.registry import names as benchmark_names
from reasonvos.cli._model_options import add_option_flags, options_from_args
from reasonvos.fileio import write_text_atomic

STAGES = ("decode", "clip", "sam_encode", "llm", "decode_masks")
CHAT_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def file_facts(checkpoint: str | None) -> dict[str, Any]:
    """What the checkpoint folder's config.json and tokenizer_config.json say, as saved."""
    if checkpoint is None:
        return {"checkpoint": None}
    from reasonvos.videolisa.checkpoint import resolve_checkpoint

    folder = resolve_checkpoint(checkpoint)
    config = _read_json(folder / "config.json") or {}
    tok = _read_json(folder / "tokenizer_config.json") or {}
    added = {v.get("content"): v for v in (tok.get("added_tokens_decoder") or {}).values() if isinstance(v, dict)}
    return {
        "checkpoint": str(folder),
        "config.sliding_window": config.get("sliding_window"),
        "config.torch_dtype": config.get("torch_dtype"),
        "tokenizer.legacy": tok.get("legacy"),
        "tokenizer.add_bos_token": tok.get("add_bos_token"),
        "tokenizer.add_eos_token": tok.get("add_eos_token"),
        "tokenizer.class": tok.get("tokenizer_class"),
        "chat_tokens": {t: {k: added[t].get(k) for k in ("lstrip", "rstrip", "special")} if t in added else None
                        for t in (*CHAT_TOKENS, "[SEG]")},
    }


def model_facts(seg) -> dict[str, Any]:
    """What the loaded model and tokenizer run with."""
    tok = seg.tokenizer
    seg_id = seg.model.seg_token_id
    return {
        "sliding_window": getattr(seg.model.language_model.config, "sliding_window", None),
        "legacy": getattr(tok, "legacy", None),
        "add_bos_token": getattr(tok, "add_bos_token", None),
        "add_eos_token": getattr(tok, "add_eos_token", None),
        "seg_token_id": seg_id,
        "seg_token": tok.convert_ids_to_tokens(seg_id),
        "dtype": str(seg.model.dtype).removeprefix("torch."),
        "device": str(seg.model.device),
    }


def prompt_facts(seg, benchmark, sample) -> dict[str, Any]:
    ids = seg.prompt_ids(benchmark, sample)
    seg_id = seg.model.seg_token_id
    at = [i for i, t in enumerate(ids) if t == seg_id]
    before = ids[at[0] - 1] if at and at[0] > 0 else None
    return {"query": seg.sample_query(benchmark, sample), "prompt_ids": ids, "seg_positions": at,
            "token_before_seg": None if before is None or before < 0 else seg.tokenizer.convert_ids_to_tokens(before)}


def run_once(seg, benchmark, sample) -> tuple[np.ndarray, dict[str, float], float]:
    """All of a sample's masks (T, H, W) and the seconds per stage, from a cold per-video cache."""
    seg.clear_cache()
    seg.timings.clear()
    start = time.perf_counter()
    masks = np.stack(list(seg.segment_sample(benchmark, sample)))
    return masks, {s: seg.timings.get(s, 0.0) for s in STAGES}, time.perf_counter() - start


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    union = np.logical_or(a, b).sum()
    return {"pixels_equal": float((a == b).mean()), "identical": bool(np.array_equal(a, b)),
            "iou": 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union),
            "foreground": float(a.mean())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", required=True, choices=benchmark_names())
    parser.add_argument("--root", required=True, help="the benchmark's folder")
    parser.add_argument("--split", default=None)
    parser.add_argument("--limit", type=int, default=10, help="samples to run (the first N, in loader order)")
    parser.add_argument("--out", default="gpu_check.json", help="the JSON written (default %(default)s)")
    add_option_flags(parser, VideoLisaOptions)
    args = parser.parse_args(argv)
    given_checkpoint = args.checkpoint if "--checkpoint" in (argv if argv is not None else sys.argv) else None
    if args.tiny_random is None and given_checkpoint is None:
        args.tiny_random = 0
    batch = args.sam_batch_size
    bench = load_benchmark(args.benchmark, args.root, args.split)
    samples = bench.samples[: args.limit]
    if not samples:
        parser.error(f"{args.root}: no samples in {args.benchmark} {bench.split}")
    seg = load_model("videolisa", **vars(options_from_args(VideoLisaOptions, args, "videolisa")))
    report: dict[str, Any] = {
        "benchmark": args.benchmark, "split": bench.split, "batch_sizes": [1, batch],
        "files": file_facts(given_checkpoint if args.tiny_random is None else None),
        "model": model_facts(seg), "samples": [],
    }
    print(f"{len(samples)} samples of {args.benchmark} {bench.split}; model {report['model']}")
    for sample in samples:
        row: dict[str, Any] = {"key": sample.key, **prompt_facts(seg, bench, sample)}
        outputs = {}
        for size in (1, batch):
            seg.sam_batch_size = size
            masks, stages, total = run_once(seg, bench, sample)
            outputs[size] = masks
            row[f"seconds_batch{size}"] = {**stages, "total": total}
        row["frames"] = int(outputs[1].shape[0])
        row["agreement"] = agreement(outputs[1], outputs[batch])
        report["samples"].append(row)
        a = row["agreement"]
        print(f"{sample.key}: {row['frames']} frames, pixels equal {a['pixels_equal']:.6f}, IoU {a['iou']:.6f}, "
              f"before [SEG] {row['token_before_seg']!r}, "
              + ", ".join(f"{s} {row[f'seconds_batch{batch}'][s]:.3f}s" for s in STAGES))
    rows = report["samples"]
    report["summary"] = {
        "samples": len(rows),
        "identical_samples": sum(r["agreement"]["identical"] for r in rows),
        "min_pixels_equal": min(r["agreement"]["pixels_equal"] for r in rows),
        "min_iou": min(r["agreement"]["iou"] for r in rows),
        **{f"seconds_per_sample_batch{size}": {s: float(np.mean([r[f"seconds_batch{size}"][s] for r in rows]))
                                               for s in (*STAGES, "total")} for size in (1, batch)},
    }
    write_text_atomic(args.out, json.dumps(report, indent=1, sort_keys=True) + "\n")
    s = report["summary"]
    print(f"\n{s['identical_samples']}/{s['samples']} samples identical between SAM batch 1 and {batch}; "
          f"lowest pixel agreement {s['min_pixels_equal']:.6f}, lowest IoU {s['min_iou']:.6f}")
    for size in (1, batch):
        per = s[f"seconds_per_sample_batch{size}"]
        print(f"seconds per sample, SAM batch {size}: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
