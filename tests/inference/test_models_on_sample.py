"""The model runners on the embedded sample benchmark: `reasonvos infer` with tiny random models
writes a complete prediction folder in the ReasonVOS layout, and `reasonvos score` accepts it."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("segment_anything")

from reasonvos import load_benchmark  # noqa: E402
from reasonvos.cli import main  # noqa: E402
from reasonvos.demo.render import write_sample_benchmark  # noqa: E402
from reasonvos.demo.scenes import sample_scenes  # noqa: E402
from reasonvos.inference.runner import is_complete  # noqa: E402


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    """One video of the embedded sample with two of its instructions (a short and a long one),
    so that CPU runs of the tiny models stay quick."""
    scene = min(sample_scenes(), key=lambda s: len(s.frames))
    root = write_sample_benchmark(tmp_path_factory.mktemp("sample"), [scene])
    meta_path = root / "meta_expressions.json"
    meta = json.loads(meta_path.read_text())
    exps = meta["videos"][scene.video]["expressions"]
    short = next(e for e in exps if not e["is_sent"])
    long = next(e for e in exps if e["is_sent"])
    meta["videos"][scene.video]["expressions"] = [short, long]
    meta_path.write_text(json.dumps(meta))
    return root


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("model, options", [
    ("videolisa", []),
    ("lisa-xmem", ["--propagation-size", "-1"]),
])
def test_infer_on_the_embedded_sample_then_score(sample_root, tmp_path, model, options):
    out = tmp_path / model
    argv = ["infer", model, "--benchmark", "reasonvos", "--root", str(sample_root), "--out", str(out),
            "--tiny-random", "0", "--dtype", "fp32", "--device", "cpu", "--quiet", *options]
    assert main(argv) == 0
    bench = load_benchmark("reasonvos", sample_root)
    assert len(bench.samples) == 2
    assert all(is_complete(bench, s, out) for s in bench.samples)
    results = tmp_path / "results.json"
    assert main(["score", "reasonvos", "--root", str(sample_root), "--pred", str(out), "--workers", "1",
                 "--method", model, "--json", str(results), "--quiet"]) == 0
    summary = json.loads(results.read_text())["summary"]
    assert summary["missing_frames"] == 0 and summary["n_samples"] == 2
    assert 0.0 <= summary["J&F"] <= 1.0
