"""Results files as `reasonvos score --json` writes them (the format is defined in reasonvos.evaluators.schema)."""

from __future__ import annotations

import json
from pathlib import Path

from reasonvos.benchmarks import registry

NASTY = "<b>x&y</b> 50%_{a}"


def results_json(method: str, jf: float, *, benchmark: str = "reasonvos", split: str | None = None,
                 date: str = "2026-01-01T00:00:00+00:00", role: str = "model", version: str = "0.1.0",
                 per_sample: list[dict] | None = None, sources: dict[str, float] | None = None) -> dict:
    """A results file as `reasonvos score --json` writes it (fractions in [0, 1])."""
    if per_sample is None:
        per_sample = [
            {"key": f"s{i}", "video": "v", "exp_id": str(i), "obj_ids": ["1"], "text": f"thing {i}",
             "kind": "short" if i % 2 else "long", "source": "mevis",
             "J": jf, "F": jf, "J&F": min(1.0, jf + 0.01 * i), "I": 1, "U": 2, "frames": 3, "missing_frames": 0}
            for i in range(4)
        ]
    sources = sources if sources is not None else {"mevis": jf, "burst": jf / 2}
    return {
        "format": "reasonvos-results/1", "benchmark": benchmark, "split": split, "protocol": registry.get(benchmark).default_protocol,
        "missing_policy": "error", "method": method,
        "method_meta": {"checkpoint": "ZechenBai/VideoLISA-3.8B", "T_sparse": 32, "T_dense": 4, "role": role},
        "toolkit_version": version, "date": date,
        "summary": {
            "J": jf - 0.01, "F": jf + 0.01, "J&F": jf, "J-Recall": 0.5, "J-Decay": -0.05,
            "missing_samples": 0, "missing_frames": 0, "n_samples": len(per_sample),
            "breakdown": {
                "kind": {"short": {"J": jf, "F": jf, "J&F": jf, "n": 2}, "long": {"J": jf, "F": jf, "J&F": jf, "n": 2}},
                "source": {s: {"J": v, "F": v, "J&F": v, "n": 2} for s, v in sources.items()},
            },
        },
        "per_sample": per_sample, "per_object": [],
    }


def write_results(folder: Path, name: str, obj: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(obj))
    return path
