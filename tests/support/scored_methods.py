"""Two methods scored by the toolkit on the fixture ReasonVOS copy, with their prediction folders:
the material of the per-sample browser tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: a method name that would break a page that did not escape it
INJECTION = "</script><script>document.title='pwned'</script>"


@dataclass
class Scored:
    bench: object
    results: dict[str, Path]  # method -> results file
    preds: dict[str, Path]  # method -> prediction folder


def scored_methods(tmp_path: Path) -> Scored:
    """"Exact" predicts every ground truth; INJECTION predicts it shifted right by 3 pixels on the
    first video, exactly on the second and nothing on the third, so the two disagree by sample."""
    from reasonvos.evaluators import score
    from writers.reasonvos import write_reasonvos

    import reasonvos
    from reasonvos.masks import write_binary_png

    write_reasonvos(tmp_path / "data")
    bench = reasonvos.load_benchmark("reasonvos", tmp_path / "data")
    videos = list(bench.videos)
    preds = {"Exact": tmp_path / "pred-exact", INJECTION: tmp_path / "pred-other"}
    for s in bench.samples:
        for f in bench.prediction_frames(s):
            gt = bench.gt_mask(s, f)
            write_binary_png(preds["Exact"] / bench.prediction_path(s, f), gt)
            other = {0: np.roll(gt, 3, axis=1), 1: gt}.get(videos.index(s.video_id), np.zeros_like(gt))
            write_binary_png(preds[INJECTION] / bench.prediction_path(s, f), other)
    results = {}
    for name, folder in preds.items():
        path = tmp_path / "results" / f"{len(results)}.json"
        score(bench, folder, workers=1, method=name).to_json(path)
        results[name] = path
    return Scored(bench, results, preds)
