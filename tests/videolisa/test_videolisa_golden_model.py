"""Our VideoLISA against outputs of the OFFICIAL showlab/VideoLISA code, on tiny weights.

``tests/videolisa/golden/<variant>/`` was written once by
``python perf/parity_videolisa.py --official <checkout> --python <4.41.2 env> --write-golden
tests/videolisa/golden`` (versions and seed in each ``versions.json``): the official classes
built a tiny VideoLISA (Phi-3 2x64, CLIP 336 px, SAM at 1024 px with patch 64), filled it with
:func:`~reasonvos.videolisa.tiny_weights.tiny_weight` values and saved it with
``VideoLISAForCausalLM.save_pretrained``; the official inference steps then produced the token
ids, the SAM prompt embedding and the mask logits of a 3-frame video. The config.json and tokenizer
files here are the ones the official side wrote; the weights are not committed, but regenerated
from their key names and shapes (``shapes.json``) with the same function.

So these tests fail if our loader, tokenizer, prompt, frame sampling, visual-token layout,
attention window, [SEG] rule, SAM pre/post-processing or decoder drift from the original.
Tolerances: ids exact; prompt embedding 1e-5 and logits 1e-6 absolute (the parity run measured
<= 1.2e-6 and <= 1.4e-7; one weight off by 1e-2 moves them by ~1e-3 and ~1e-5); masks exact.
"""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("google.protobuf")  # the tokenizers are saved with legacy: false

from reasonvos.videolisa.checkpoint import load_videolisa, official_state_dict  # noqa: E402
from reasonvos.videolisa.prompts import phi3_prompt, query_for  # noqa: E402
from reasonvos.videolisa.segmenter import VideoLisaSegmenter  # noqa: E402
from reasonvos.videolisa.tiny_weights import materialise  # noqa: E402
from reasonvos.videolisa.tokenizer import tokenize_with_image  # noqa: E402

from reasonvos.benchmarks import registry  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GOLDEN = Path(__file__).parent / "golden"
VARIANTS = sorted(p.name for p in GOLDEN.iterdir() if (p / "versions.json").is_file())
PROMPT_TOL = 1e-5
LOGIT_TOL = 1e-6


@pytest.fixture(scope="module", params=VARIANTS)
def golden(request, tmp_path_factory):
    folder = GOLDEN / request.param
    meta = json.loads((folder / "versions.json").read_text())
    tmp = tmp_path_factory.mktemp(request.param)
    ckpt = materialise(folder / "checkpoint", tmp / "checkpoint", meta["seed"])
    clip = materialise(folder / "clip", tmp / "clip", meta["seed"])
    model, tok = load_videolisa(ckpt, clip, dtype="fp32")
    arrays = dict(np.load(folder / "golden.npz"))
    frames = [arrays[f"frames/{i}"] for i in range(sum(k.startswith("frames/") for k in arrays))]
    return meta, model, tok, arrays, frames


def test_our_writer_gives_the_keys_and_shapes_the_official_save_pretrained_wrote(golden):
    """The loader took every official key (it refuses partial loads); the writer gives them back."""
    meta, model, *_ = golden
    shapes = json.loads((GOLDEN / meta["variant"]["name"] / "checkpoint" / "shapes.json").read_text())
    assert {k: list(v.shape) for k, v in official_state_dict(model).items()} == shapes


def cases(meta):
    for name, case in meta["cases"].items():
        spec = registry.get(case["benchmark"])
        kind = case["kind"] if spec.instruction_style == "reasoning" else None
        yield name, case, query_for(spec.instruction_style, case["text"], kind)


def test_the_benchmark_query_is_the_official_scripts_query(golden):
    meta, *_ = golden
    for _, case, query in cases(meta):
        assert query == case["official_query"]


def test_token_ids_prompt_embedding_and_logits_match_the_official_code(golden):
    meta, model, tok, arrays, frames = golden
    seg = VideoLisaSegmenter(model, tok, cache=False)
    state = seg.video_state("golden", lambda: frames)
    for name, _, query in cases(meta):
        ids = tokenize_with_image(phi3_prompt(query), tok)
        assert ids == arrays[f"{name}/ids"].tolist(), name
        prompt = model.prompt_embedding(ids, model.sparse_dense_tokens(state.frame_tokens, seg.dense_positions))
        np.testing.assert_allclose(prompt.numpy(), arrays[f"{name}/prompt_embedding"], rtol=0, atol=PROMPT_TOL)
        logits = torch.cat([model.sam.decode(state.sam_embeddings[i : i + 1], prompt, state.original_sizes[i],
                                             state.input_sizes[i]) for i in range(len(frames))])
        np.testing.assert_allclose(logits.numpy(), arrays[f"{name}/logits"], rtol=0, atol=LOGIT_TOL)


def test_the_segmenter_masks_are_the_official_masks(golden):
    meta, model, tok, arrays, frames = golden
    seg = VideoLisaSegmenter(model, tok)
    for name, _, query in cases(meta):
        masks = np.stack(list(seg.segment_frames("golden", lambda: frames, query)))
        want = arrays[f"{name}/logits"] > 0
        assert 0 < want.mean() < 1, "a golden mask that is empty or full would prove little"
        np.testing.assert_array_equal(masks, want)
