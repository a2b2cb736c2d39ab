"""LISA-v1 from stock Llama + CLIP + the shared SAM adapter: sentence/phrase choice, video modes,
refused checkpoints. Agreement with the original LISA code (ids, prompt, [SEG] state, masks, the
checkpoint layout) is pinned by golden outputs in ``tests/baselines/test_baselines_fidelity.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("segment_anything")
pytest.importorskip("sentencepiece")

from reasonvos.baselines.lisa import (  # noqa: E402
    LisaSegmenter,
    is_sentence,
    lisa_query,
    load_lisa,
    save_lisa_checkpoint,
    tiny_lisa,
)
from reasonvos.videolisa.checkpoint import save_clip  # noqa: E402

from reasonvos.errors import InputError  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def tiny():
    return tiny_lisa(0)


@pytest.fixture(scope="module")
def written(tiny, tmp_path_factory):
    model, tok, config = tiny
    root = tmp_path_factory.mktemp("lisa")
    save_lisa_checkpoint(model, config, tok, root / "LISA-tiny", shards=2)
    save_clip(model, root / "clip")
    return root / "LISA-tiny", root / "clip"


def frames(n: int = 3, size=(24, 32)) -> list[np.ndarray]:
    return [np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8) for i in range(n)]


# -- prompt ----------------------------------------------------------------------------------------


def test_reasonvos_long_expressions_are_sentences_other_benchmarks_phrases():
    from reasonvos.benchmarks import registry
    from reasonvos.benchmarks.model import Sample

    def sample(text: str, kind: str | None) -> Sample:
        return Sample(video_id="v", exp_id="0", text=text, obj_ids=("1",), key="v/0", kind=kind)

    def declared(bench: str, s: Sample) -> bool:
        return is_sentence(s.text, registry.get(bench).is_sentence(s))

    assert declared("reasonvos", sample("Which animal is hungry?", "long"))
    assert not declared("reasonvos", sample("the cat", "short"))
    assert not declared("mevis", sample("the cat that jumps first.", None))
    assert not declared("davis", sample("", None))  # no instructions: nothing looks like a sentence
    assert is_sentence("Which one is hungry?") and not is_sentence("the cat")


# -- video modes -----------------------------------------------------------------------------------


def test_per_frame_mode_segments_every_frame_independently(tiny):
    model, tok, _ = tiny
    seg = LisaSegmenter(model, tok, mode="per-frame")
    video = frames(3)
    query = lisa_query("the cat", False)
    masks = list(seg.segment_frames(video, query))
    assert [m.shape for m in masks] == [(24, 32)] * 3 and all(m.dtype == bool for m in masks)
    assert np.array_equal(masks[2], seg.frame_mask(video[2], query))
    assert np.array_equal(masks[2], list(seg.segment_frames(video[2:], query))[0])


def test_first_frame_token_mode_runs_the_llm_once(tiny, monkeypatch):
    model, tok, _ = tiny
    calls = []
    original = type(model).prompt_embedding
    monkeypatch.setattr(type(model), "prompt_embedding",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    video = frames(4)
    query = lisa_query("the cat", False)
    masks = list(LisaSegmenter(model, tok, mode="first-frame-token").segment_frames(video, query))
    assert len(calls) == 1 and len(masks) == 4
    assert np.array_equal(masks[0], LisaSegmenter(model, tok).frame_mask(video[0], query))


def test_unknown_mode_is_refused(tiny):
    with pytest.raises(ValueError, match="mode"):
        LisaSegmenter(tiny[0], tiny[1], mode="every-other-frame")


# -- checkpoint ------------------------------------------------------------------------------------


def test_a_missing_key_is_refused_and_named(written, tmp_path):
    import shutil

    folder, clip = written
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    index = json.loads((broken / "pytorch_model.bin.index.json").read_text())
    shard = broken / index["weight_map"]["model.text_hidden_fcs.0.2.weight"]
    state = torch.load(shard, weights_only=True)
    del state["model.text_hidden_fcs.0.2.weight"]
    torch.save(state, shard)
    with pytest.raises(InputError, match=r"missing keys: model\.text_hidden_fcs\.0\.2\.weight"):
        load_lisa(broken, clip, dtype="fp32")


def test_a_folder_that_is_not_lisa_is_refused(tmp_path, written):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "tokenizer.model").write_bytes(b"")
    with pytest.raises(InputError, match="not a LISA config"):
        load_lisa(tmp_path, written[1])


def test_frame_encodings_are_cached_per_video_across_expressions(tiny, monkeypatch):
    model, tok, _ = tiny
    calls = []
    original = type(model).sam_embedding
    monkeypatch.setattr(type(model), "sam_embedding", lambda self, f: calls.append(1) or original(self, f))
    seg = LisaSegmenter(model, tok)
    video = frames(3)
    first = list(seg.segment_frames(video, lisa_query("the cat", False), "v1"))
    list(seg.segment_frames(video, lisa_query("the dog", False), "v1"))
    assert len(calls) == 3  # the second expression reuses the video's SAM embeddings
    again = list(seg.segment_frames(video, lisa_query("the cat", False), "v2"))
    assert len(calls) == 6  # a new video drops the cache
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


# -- prompt styles ---------------------------------------------------------------------------------


def test_videolisa_prompt_style_asks_what_videolisas_scripts_ask_and_answers_sure_seg(tiny):
    """The questions VideoLISA's own inference scripts built (recorded from their template literals
    by perf/parity_videolisa.py in the golden versions.json) are what ``--prompt-style videolisa``
    asks LISA, per benchmark; the teacher-forced answer becomes "Sure, [SEG].", so the [SEG] state
    follows a different token than in LISA's own template."""
    from pathlib import Path
    from types import SimpleNamespace

    from reasonvos.benchmarks import registry

    model, tok, _ = tiny
    styles = {s: LisaSegmenter(model, tok, prompt_style=s) for s in ("lisa", "videolisa")}
    golden = Path(__file__).parents[1] / "videolisa" / "golden"
    recorded = [c for f in golden.glob("*/versions.json") for c in json.loads(f.read_text())["cases"].values()]
    assert recorded
    for case in recorded:
        bench = SimpleNamespace(spec=registry.get(case["benchmark"]))
        sample = SimpleNamespace(text=case["text"], kind=case["kind"])
        assert styles["videolisa"].sample_query(bench, sample) == case["official_query"]
        assert styles["lisa"].sample_query(bench, sample) != case["official_query"]
    frame = frames(1)[0]
    query = recorded[0]["official_query"]
    sure = list(styles["videolisa"].segment_frames([frame], query))[0]
    plain = styles["lisa"].frame_logits(frame, query)
    assert not np.array_equal(styles["videolisa"].frame_logits(frame, query).numpy(), plain.numpy())
    assert sure.shape == frame.shape[:2]


def test_an_unknown_prompt_style_is_refused(tiny):
    model, tok, _ = tiny
    with pytest.raises(ValueError, match="prompt style 'chat'"):
        LisaSegmenter(model, tok, prompt_style="chat")
