"""``perf/gpu_check.py``, the one-command check for whoever has the real weights and a GPU, run
here on a tiny checkpoint folder in the release layout (CPU, fp32): it records the files' facts and
the prompt around ``[SEG]``, runs each sample with SAM batch 1 and 4, and writes one JSON."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from reasonvos.videolisa.checkpoint import save_checkpoint, save_clip  # noqa: E402
from reasonvos.videolisa.tiny import tiny_config, tiny_videolisa  # noqa: E402
from writers.reasonvos import write_reasonvos  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SCRIPT = Path(__file__).resolve().parents[2] / "perf" / "gpu_check.py"


def test_gpu_check_records_the_files_facts_and_batch_agreement(tmp_path, capsys):
    model, tok = tiny_videolisa(1)
    ckpt = save_checkpoint(model, tiny_config(len(tok)), tok, tmp_path / "videolisa")
    clip = save_clip(model, tmp_path / "clip")
    root = write_reasonvos(tmp_path / "data")
    out = tmp_path / "gpu_check.json"
    main = runpy.run_path(str(SCRIPT))["main"]
    assert main(["--checkpoint", str(ckpt), "--clip", str(clip), "--benchmark", "reasonvos", "--root", str(root),
                 "--limit", "2", "--dtype", "fp32", "--device", "cpu", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    saved = json.loads((Path(ckpt) / "config.json").read_text())
    assert report["files"]["config.sliding_window"] == saved.get("sliding_window")
    assert report["model"]["seg_token"] == "[SEG]"
    assert report["model"]["seg_token_id"] == tok.convert_tokens_to_ids("[SEG]")
    assert len(report["samples"]) == 2
    for row in report["samples"]:
        # the teacher-forced answer is "Sure, [SEG].": [SEG] is one token, right after the comma
        assert row["prompt_ids"].count(report["model"]["seg_token_id"]) == 1
        assert row["token_before_seg"] == ","
        # fp32 on CPU: the SAM batch size must not change a single pixel
        assert row["agreement"]["identical"] and row["agreement"]["pixels_equal"] == 1.0
        assert set(row["seconds_batch1"]) == {"decode", "clip", "sam_encode", "llm", "decode_masks", "total"}
    assert report["summary"]["identical_samples"] == 2
    assert "2/2 samples identical between SAM batch 1 and 4" in capsys.readouterr().out
