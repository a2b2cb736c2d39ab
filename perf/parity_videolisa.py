"""Run the official showlab/VideoLISA code beside ``reasonvos.videolisa`` on tiny random weights.

    python3 -m venv /tmp/vl-env
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/vl-env/lib/python3.11/site-packages/zz_toolkit.pth
    /tmp/vl-env/bin/pip install transformers==4.41.2 tokenizers==0.19.1 sentencepiece protobuf einops
    git clone https://github.com/showlab/VideoLISA /tmp/videolisa-official   # tested at 146f2bc
    python perf/parity_videolisa.py --official /tmp/videolisa-official --python /tmp/vl-env/bin/python

The ``.pth`` line comes AFTER the side env's own site-packages, so the side env has its own
transformers 4.41.2 (VideoLISA's pin) and shares the toolkit venv's torch. (If the toolkit venv
layers on another venv, name that one's site-packages instead: it must hold torch.)

For each tokenizer/attention variant (``VARIANTS``: BOS on and off, ``legacy: false``, a sliding
window that binds at the ~2.4k-token prompt and none), the official side
(``perf/official_videolisa_side.py``) writes the tokenizer with 4.41's ``LlamaTokenizer`` (Phi-3's
chat tokens with their ``rstrip`` flags, ``[SEG]`` added), a tiny CLIP (336 px, 576 tokens per
frame as ``evaluate`` hard-codes) and a tiny ``VideoLISAForCausalLM`` filled with
:func:`reasonvos.videolisa.tiny_weights.tiny_weight` values, saved by the official class's
``save_pretrained``; then runs the official inference steps per case. Our side loads the same
folders with ``load_videolisa`` (the ``--checkpoint`` loader) and runs the segmenter's steps.

Cases: every benchmark of the registry that has text (its ``instruction_style``; reasoning ones
with a short and a long expression) x videos of 10 frames (40x56) and 45 frames (64x48, more
than the 32 sparse frames). The official query is built from the template literal in the
benchmark style's official script (``OFFICIAL_SCRIPTS``), not from ours. Per case the table
prints: token ids equal, prompt-embedding max |d|, mask-logit max |d|, pixel agreement and the
foreground fraction (so "all pixels agree" is not an empty statement). Sensitivity rows change
one weight by 1e-2, or let the [SEG] query see one more key than the original, and must differ.

``--write-golden DIR`` also writes the golden inputs and outputs of a 3-frame video for
``tests/videolisa/test_videolisa_golden_model.py`` (official-written config and tokenizer files,
key->shape lists, frames, ids, prompt embeddings, logits, versions). Exit status 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from reasonvos.videolisa.checkpoint import load_videolisa, read_weights, weight_files
from reasonvos.videolisa.model import VideoLisa
from reasonvos.videolisa.prompts import phi3_prompt, query_for
from reasonvos.videolisa.segmenter import VideoLisaSegmenter
from reasonvos.videolisa.tiny import write_tiny_tokenizer
from reasonvos.videolisa.tokenizer import tokenize_with_image

from reasonvos.benchmarks import registry

HERE = Path(__file__).resolve().parent
SIDE = HERE / "official_videolisa_side.py"

#: the official inference script(s) of each instruction style; every script of a style must hold
#: the same query template
OFFICIAL_SCRIPTS = {
    "reasoning": ["evaluation/reason_vos/inference_reason_vos.py"],
    "referring": ["evaluation/mevis_val_u/inference_mevis.py", "evaluation/refytvos/inference_refytvos.py",
                  "evaluation/refdavis/inference_davis.py"],
}

#: tiny sizes: Phi-3 width 64 x 2 layers, CLIP 336 px / patch 14 (576 tokens per frame, as
#: ``VideoLISAForCausalLM.evaluate`` hard-codes), SAM at its 1024 input with patch 64 (16x16 grid)
LLM_CONFIG = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 4, "max_position_embeddings": 4096, "original_max_position_embeddings": 4096,
              "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": False}
CLIP_CONFIG = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2,
               "image_size": 336, "patch_size": 14, "projection_dim": 32}
SAM_CONFIG = {"encoder_embed_dim": 32, "encoder_depth": 2, "encoder_num_heads": 2, "encoder_global_attn_indexes": [1],
              "image_size": 1024, "patch_size": 64, "prompt_embed_dim": 32, "window_size": 4, "mask_in_chans": 8,
              "decoder_depth": 2, "decoder_mlp_dim": 64, "decoder_num_heads": 2, "num_multimask_outputs": 3,
              "iou_head_depth": 3, "iou_head_hidden_dim": 32}


#: pass thresholds (fp32, eager vs sdpa attention): about 10x the largest difference seen, and
#: well below what one weight off by 1e-2 or one extra attention key does (~1e-3 and ~1e-5)
PROMPT_TOL = 1e-5
LOGIT_TOL = 1e-6


@dataclass(frozen=True)
class Variant:
    name: str
    add_bos: bool
    legacy: bool
    sliding_window: int | None
    seed: int


VARIANTS = (
    Variant("bos_window2047", add_bos=True, legacy=False, sliding_window=2047, seed=1),
    Variant("nobos_nowindow", add_bos=False, legacy=False, sliding_window=None, seed=2),
)

#: video name -> (frames, height, width); "golden3" is the small one the golden files keep
VIDEOS = {"short10": (10, 40, 56), "long45": (45, 64, 48), "golden3": (3, 20, 26)}
TEXTS = {"short": "Cat on the left", "long": "Which animal is most likely to be hungry?"}
#: variant -> (instruction style, kind) whose first benchmark's case on "golden3" becomes a golden file
GOLDEN_CASES = {"bos_window2047": (("reasoning", "long"), ("referring", "phrase")),
                "nobos_nowindow": (("reasoning", "short"),)}


def make_frames(seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Smooth random RGB videos (blurred noise, so SAM sees structure, moving slowly)."""
    import cv2

    rng = np.random.default_rng(seed)
    out = {}
    for name, (n, h, w) in VIDEOS.items():
        base = rng.integers(0, 256, (h + n, w, 3), dtype=np.uint8)
        base = cv2.GaussianBlur(base, (0, 0), 2.0)
        base = np.clip((base.astype(np.float32) - base.mean()) * 4 + 128, 0, 255).astype(np.uint8)
        out[name] = [np.ascontiguousarray(base[i : i + h]) for i in range(n)]
    return out


def official_templates(official: Path) -> dict[str, dict[str, str]]:
    """style -> {"sent"|"class": template}: the ``prompt_template = "..."`` literals of the scripts."""
    out: dict[str, dict[str, str]] = {}
    for style, scripts in OFFICIAL_SCRIPTS.items():
        found: set[str] = set()
        for script in scripts:
            found |= set(re.findall(r'prompt_template = "([^"]*)"', (official / script).read_text()))
        templates = {("sent" if "{sent}" in t else "class"): t for t in found}
        if len(templates) != len(found):
            raise SystemExit(f"the {style} scripts disagree on the query template: {sorted(found)}")
        out[style] = templates
    return out


def cases(official: Path) -> list[dict]:
    """Every registered benchmark with text prompts x every video; queries from both sides' rules."""
    templates = official_templates(official)
    out = []
    for spec in registry.all_specs():
        style = spec.instruction_style
        if style is None:
            print(f"info {spec.name}: no text instructions, no prompt to compare")
            continue
        kinds = ("short", "long") if style == "reasoning" else ("phrase",)
        for kind in kinds:
            text = TEXTS["long" if kind == "long" else "short"]
            ours = query_for(style, text, kind if style == "reasoning" else None)
            t = templates[style]
            theirs = t["sent"].format(sent=text) if kind == "long" else t["class"].format(class_name=text.lower())
            for video, (n, _, _) in VIDEOS.items():
                out.append({"name": f"{spec.name}-{kind}-{video}", "benchmark": spec.name, "style": style, "text": text,
                            "kind": kind, "video": video, "num_frames": n, "our_query": ours, "official_query": theirs,
                            "num_frames_sparse": 32, "num_frames_dense": 4})
    return out


def side(python: str, job: dict, script: Path = SIDE) -> dict:
    """Run one job of an official-side ``script`` with the side environment's ``python``; its last
    stdout line is the JSON answer."""
    done = subprocess.run([python, str(script)], input=json.dumps(job), text=True, capture_output=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"the official side failed ({job['job']})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def our_outputs(model: VideoLisa, tok, frames: dict[str, list[np.ndarray]], case: dict) -> dict[str, np.ndarray]:
    """The segmenter's steps (per-video state, one LLM pass, SAM decode per frame) with logits kept."""
    seg = VideoLisaSegmenter(model, tok, num_frames_sparse=case["num_frames_sparse"],
                             num_frames_dense=case["num_frames_dense"], cache=False)
    video = frames[case["video"]]
    state = seg.video_state(case["video"], lambda: video)
    ids = tokenize_with_image(phi3_prompt(case["our_query"]), tok)
    prompt = model.prompt_embedding(ids, model.sparse_dense_tokens(state.frame_tokens, seg.dense_positions))
    logits = torch.cat([model.sam.decode(state.sam_embeddings[i : i + 1], prompt, state.original_sizes[i],
                                         state.input_sizes[i]) for i in range(len(video))])
    return {"ids": np.array(ids), "prompt_embedding": prompt.float().numpy(), "logits": logits.float().numpy()}


def compare(name: str, ours: dict, theirs: dict, want_equal: bool = True) -> bool:
    """One table row; returns whether it passed (equal when ``want_equal``, different otherwise)."""
    ids_equal = ours["ids"].shape == theirs["ids"].shape and bool((ours["ids"] == theirs["ids"]).all())
    d_prompt = float(np.abs(ours["prompt_embedding"] - theirs["prompt_embedding"]).max())
    d_logits = float(np.abs(ours["logits"] - theirs["logits"]).max())
    agree = float(((ours["logits"] > 0) == (theirs["logits"] > 0)).mean())
    fg = float((theirs["logits"] > 0).mean())
    scale = float(np.abs(theirs["logits"]).max())
    equal = ids_equal and d_prompt <= PROMPT_TOL and d_logits <= LOGIT_TOL and agree == 1.0
    ok = equal if want_equal else not equal
    print(f"{'PASS' if ok else 'FAIL'} {name:<40} ids {'equal' if ids_equal else 'DIFFER':<6} "
          f"prompt |d| {d_prompt:.2e}  logits |d| {d_logits:.2e} (max |logit| {scale:.1e})  pixels agree {agree:.6f}  fg {fg:.3f}")
    return ok


def shapes_of(folder: Path) -> dict[str, list[int]]:
    """key -> shape of every tensor the official ``save_pretrained`` wrote (safetensors or .bin)."""
    return {k: list(v.shape) for k, v in read_weights(weight_files(folder)).items()}


def official_commit(official: Path) -> str:
    done = subprocess.run(["git", "-C", str(official), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown (not a git checkout)"


def save_golden(dest: Path, work: Path, frames: list[np.ndarray], outputs: dict[str, np.ndarray], meta: dict) -> None:
    """One golden folder: the official-written config/tokenizer files of ``work/checkpoint`` and
    ``work/clip`` with their key->shape lists (weights are regenerated by ``tiny_weight``), the
    frames and official outputs (compressed .npz) and ``versions.json``."""
    if dest.exists():
        shutil.rmtree(dest)
    for part in ("checkpoint", "clip"):
        (dest / part).mkdir(parents=True)
        for f in (work / part).iterdir():
            if f.suffix == ".json" or f.name == "tokenizer.model":
                shutil.copy(f, dest / part / f.name)
        (dest / part / "shapes.json").write_text(json.dumps(shapes_of(work / part), indent=0, sort_keys=True))
    arrays = {f"frames/{i}": f for i, f in enumerate(frames)} | outputs
    np.savez_compressed(dest / "golden.npz", **arrays)
    (dest / "versions.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def write_golden(out: Path, variant: Variant, work: Path, frames, theirs: dict, info: dict, official: Path,
                 case_list: list[dict]) -> None:
    """Golden files of one variant (the cases GOLDEN_CASES names, on the "golden3" video)."""
    chosen = []
    for style, kind in GOLDEN_CASES[variant.name]:
        chosen += [c for c in case_list if (c["style"], c["kind"], c["video"]) == (style, kind, "golden3")][:1]
    outputs = {f"{c['name']}/{k}": theirs[f"{c['name']}/{k}"] for c in chosen
               for k in ("ids", "prompt_embedding", "logits")}
    keep = ("benchmark", "style", "text", "kind", "our_query", "official_query", "num_frames_sparse",
            "num_frames_dense")
    meta = {"made_by": "python perf/parity_videolisa.py --write-golden tests/videolisa/golden",
            "official": f"showlab/VideoLISA {official_commit(official)}", "side_env": info, "seed": variant.seed,
            "variant": vars(variant), "cases": {c["name"]: {k: c[k] for k in keep} for c in chosen}}
    save_golden(out / variant.name, work, frames["golden3"], outputs, meta)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--official", type=Path, required=True, help="a showlab/VideoLISA checkout")
    parser.add_argument("--python", required=True, help="the side env's python (transformers 4.41.2)")
    parser.add_argument("--write-golden", type=Path, help="also write golden files into this folder")
    args = parser.parse_args()
    torch.set_num_threads(2)
    frames = make_frames()
    case_list = cases(args.official)
    failed = False
    with tempfile.TemporaryDirectory(prefix="parity-videolisa-") as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "frames.npz", **{f"{v}/{i}": f for v, fs in frames.items() for i, f in enumerate(fs)})
        write_tiny_tokenizer(tmp / "spm", remove_extra_whitespaces=False)  # sentencepiece model, Llama whitespace
        for variant in VARIANTS:
            work = tmp / variant.name
            base = {"official": str(args.official), "sam": SAM_CONFIG,
                    "checkpoint": str(work / "checkpoint"), "clip": str(work / "clip")}
            llm = dict(LLM_CONFIG, sliding_window=variant.sliding_window)
            built = side(args.python, {**base, "job": "build", "spm": str(tmp / "spm" / "tokenizer.model"),
                                       "legacy": variant.legacy, "add_bos": variant.add_bos, "seed": variant.seed,
                                       "llm_config": llm, "clip_config": CLIP_CONFIG})
            info = side(args.python, {**base, "job": "run", "frames": str(tmp / "frames.npz"), "cases": case_list,
                                      "out": str(work / "official.npz")})
            print(f"== {variant}: official side transformers {info['transformers']}, torch {info['torch']}, "
                  f"{built['keys']} tensors saved by VideoLISAForCausalLM.save_pretrained")
            theirs = dict(np.load(work / "official.npz"))
            model, tok = load_videolisa(work / "checkpoint", work / "clip", dtype="fp32")
            first = None
            for case in case_list:
                mine = our_outputs(model, tok, frames, case)
                official = {k: theirs[f"{case['name']}/{k}"] for k in ("ids", "prompt_embedding", "logits")}
                failed |= not compare(f"{variant.name}/{case['name']}", mine, official)
                first = first or (case, official)
            failed |= not sensitivity(model, tok, frames, variant, *first)
            if args.write_golden:
                write_golden(args.write_golden, variant, work, frames, theirs, info, args.official, case_list)
    print("FAIL" if failed else f"PASS: every case equal within {PROMPT_TOL} (prompt) / {LOGIT_TOL} (logits), "
                                 "every pixel agrees")
    return 1 if failed else 0


def sensitivity(model: VideoLisa, tok, frames, variant: Variant, case: dict, official: dict) -> bool:
    """Rows that must FAIL the comparison: one weight off by 1e-2; one extra attention key."""
    ok = True
    weight = model.language_model.model.layers[0].mlp.down_proj.weight
    with torch.no_grad():
        weight[0, 0] += 1e-2
        ok &= compare(f"sensitivity: one weight +1e-2 / {case['name']}", our_outputs(model, tok, frames, case),
                      official, want_equal=False)
        weight[0, 0] -= 1e-2
    if variant.sliding_window is not None:
        config = model.language_model.config
        config.sliding_window += 1  # the [SEG] query sees one key more than the original's window
        ok &= compare(f"sensitivity: one extra key / {case['name']}", our_outputs(model, tok, frames, case),
                      official, want_equal=False)
        config.sliding_window -= 1
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
