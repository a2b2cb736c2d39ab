"""Run the official dvlab-research/LISA code beside ``reasonvos.baselines.lisa`` on tiny random
weights, for both of our video modes (``per-frame`` and ``first-frame-token``).

    python3 -m venv /tmp/lisa-env
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/lisa-env/lib/python3.11/site-packages/zz_toolkit.pth
    /tmp/lisa-env/bin/pip install transformers==4.31.0 tokenizers==0.13.3 sentencepiece protobuf einops pycocotools
    git clone https://github.com/dvlab-research/LISA /tmp/lisa-official   # tested at 3cb2d43
    python perf/parity_lisa.py --official /tmp/lisa-official --python /tmp/lisa-env/bin/python

As ``perf/parity_videolisa.py`` (same tiny weights function, SAM sizes, frames, table and
thresholds): the official side (``perf/official_lisa_side.py``) writes the tokenizer, a tiny CLIP
(224 px, 256 tokens) and a tiny ``LISAForCausalLM`` saved by its own ``save_pretrained``, then runs
``model_forward(inference=True)`` per frame with ``ValDataset``'s prompt and preprocessing; ours
loads the folders with ``load_lisa`` and runs ``LisaSegmenter``'s steps. Cases: every registered
benchmark with text (its sentence/phrase template) x both modes x two videos. Prompt-embedding
|d| is over every frame's embedding. A sensitivity row changes one weight by 1e-2.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from parity_videolisa import (
    CLIP_CONFIG,
    LLM_CONFIG,
    SAM_CONFIG,
    TEXTS,
    compare,
    make_frames,
    official_commit,
    save_golden,
    side,
)
from reasonvos.baselines.lisa import (
    MODES,
    LisaModel,
    LisaSegmenter,
    lisa_input_ids,
    lisa_prompt,
    lisa_query,
    load_lisa,
)
from reasonvos.videolisa.tiny import write_tiny_tokenizer

from reasonvos.benchmarks import registry

HERE = Path(__file__).resolve().parent
SIDE = HERE / "official_lisa_side.py"
VIDEOS = ("short10", "golden3")
LISA_LLM = {k: v for k, v in LLM_CONFIG.items() if "original_max" not in k} | {"rms_norm_eps": 1e-6}
LISA_CLIP = CLIP_CONFIG | {"image_size": 224}
SEED = 1  # seed 3 gives all-foreground masks, which would make "pixels agree" empty
#: (instruction style, kind, mode) whose first benchmark's case on "golden3" becomes a golden file
GOLDEN_CASES = (("reasoning", "long", "per-frame"), ("referring", "phrase", "first-frame-token"))


def cases() -> list[dict]:
    out = []
    for spec in registry.all_specs():
        style = spec.instruction_style
        if style is None:
            print(f"info {spec.name}: no text instructions, no prompt to compare")
            continue
        for kind in (("short", "long") if style == "reasoning" else ("phrase",)):
            sentence = kind == "long"  # what spec.is_sentence answers for such samples
            text = TEXTS["long" if sentence else "short"]
            for mode in MODES:
                for video in VIDEOS:
                    out.append({"name": f"{spec.name}-{kind}-{mode}-{video}", "benchmark": spec.name, "style": style,
                                "kind": kind, "video": video, "mode": mode,
                                "text": text, "sentence": sentence, "num_frames": len(FRAMES[video])})
    return out


FRAMES = {k: v for k, v in make_frames().items() if k in VIDEOS}


def our_outputs(model: LisaModel, tok, case: dict) -> dict[str, np.ndarray]:
    """``LisaSegmenter``'s steps with the logits and every frame's prompt embedding kept."""
    seg = LisaSegmenter(model, tok, mode=case["mode"], cache=False)
    frames = FRAMES[case["video"]]
    query = lisa_query(case["text"], case["sentence"])
    prompts, logits = [], []
    first = None
    for i, frame in enumerate(frames):
        tokens, emb, size = seg.encode(frame)
        if case["mode"] == "per-frame" or first is None:
            first = model.tokens_prompt(tokens, query, tok)
        prompts.append(first.float().numpy())
        logits.append(model.sam.decode(emb, first, frame.shape[:2], size)[0].float().numpy())
        if case["mode"] == "per-frame":
            # the segmenter's own per-frame path gives the same logits
            assert torch.equal(seg.frame_logits(frame, query), torch.from_numpy(logits[-1])), "segmenter drift"
        if i == 0:
            ids = lisa_input_ids(lisa_prompt(query, model.use_im_start_end), tok)
    return {"ids": np.array(ids), "prompt_embedding": np.stack(prompts), "logits": np.stack(logits)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--official", type=Path, required=True, help="a dvlab-research/LISA checkout")
    parser.add_argument("--python", required=True, help="the side env's python (transformers 4.31.0)")
    parser.add_argument("--write-golden", type=Path, help="also write golden files (into DIR/lisa)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    case_list = cases()
    failed = False
    with tempfile.TemporaryDirectory(prefix="parity-lisa-") as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "frames.npz", **{f"{v}/{i}": f for v, fs in FRAMES.items() for i, f in enumerate(fs)})
        write_tiny_tokenizer(tmp / "spm", remove_extra_whitespaces=False)
        base = {"official": str(args.official), "sam": SAM_CONFIG, "checkpoint": str(tmp / "checkpoint"),
                "clip": str(tmp / "clip")}
        built = side(args.python, {**base, "job": "build", "spm": str(tmp / "spm" / "tokenizer.model"),
                                   "seed": SEED, "llm_config": LISA_LLM, "clip_config": LISA_CLIP}, SIDE)
        info = side(args.python, {**base, "job": "run", "frames": str(tmp / "frames.npz"), "cases": case_list,
                                  "out": str(tmp / "official.npz")}, SIDE)
        print(f"== official side transformers {info['transformers']}, torch {info['torch']}, "
              f"{built['keys']} tensors saved by LISAForCausalLM.save_pretrained")
        theirs = dict(np.load(tmp / "official.npz"))
        model, tok = load_lisa(tmp / "checkpoint", tmp / "clip", dtype="fp32")
        for case in case_list:
            official = {k: theirs[f"{case['name']}/{k}"] for k in ("ids", "prompt_embedding", "logits")}
            failed |= not compare(case["name"], our_outputs(model, tok, case), official)
        case = case_list[0]
        official = {k: theirs[f"{case['name']}/{k}"] for k in ("ids", "prompt_embedding", "logits")}
        weight = model.language_model.model.layers[0].mlp.down_proj.weight
        with torch.no_grad():
            weight[0, 0] += 1e-2
            failed |= not compare(f"sensitivity: one weight +1e-2 / {case['name']}", our_outputs(model, tok, case),
                                  official, want_equal=False)
            weight[0, 0] -= 1e-2
        if args.write_golden:
            chosen = [next(c for c in case_list if (c["style"], c["kind"], c["mode"], c["video"]) == (*g, "golden3"))
                      for g in GOLDEN_CASES]
            outputs = {f"{c['name']}/{k}": theirs[f"{c['name']}/{k}"] for c in chosen
                       for k in ("ids", "prompt_embedding", "logits")}
            keep = ("benchmark", "style", "kind", "mode", "text", "sentence")
            meta = {"made_by": "python perf/parity_lisa.py --write-golden tests/baselines/golden",
                    "official": f"dvlab-research/LISA {official_commit(args.official)}", "side_env": info,
                    "seed": SEED, "cases": {c["name"]: {k: c[k] for k in keep} for c in chosen}}
            save_golden(args.write_golden / "lisa", tmp, FRAMES["golden3"], outputs, meta)
    print("FAIL" if failed else "PASS: every case equal, every pixel agrees")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
