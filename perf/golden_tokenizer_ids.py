"""Golden token ids from the ORIGINAL tokenizer environment (transformers 4.41.2, slow LlamaTokenizer).

Why: VideoLISA ran ``AutoTokenizer.from_pretrained(version, use_fast=False)`` under transformers
4.41.x; the project installs transformers 5, whose default tokenizer puts an extra ``▁`` before
added tokens (docs/models.md#tokenizer-pitfall). ``tests/videolisa/test_videolisa_golden_ids.py`` pins the ids the
real old library gives; this script regenerates them so the pinned lists can be reproduced.

It writes the tiny tokenizer with the project's code (:func:`write_tiny_tokenizer`, run from the
project's venv) in five variants
(:data:`~reasonvos.videolisa.tiny.TOKENIZER_VARIANTS`: sentencepiece whitespace handling as the
tiny default / as Llama's (``remove_extra_whitespaces=False``) x ``legacy`` unset / ``false``, plus
the chat tokens as 4.x ``additional_special_tokens``), each saved with
``tokenizer_class: LlamaTokenizer`` as the real Phi-3 checkpoint is, then runs ``--python`` (a
python with ``transformers==4.41.2 sentencepiece protobuf``, no torch needed) to load each folder
as the original scripts do and tokenize the VideoLISA prompts (LLaVA's ``<image>`` splitting, the
``-200`` placeholder), ``"[SEG]"`` alone and ``"Sure, [SEG]."``. It prints the 4.41.2 ids as JSON,
then ours (``load_tokenizer(..., follow_legacy_flag=True)`` and the default) and PASS/FAIL.

Run (the 4.41.2 venv must NOT be the project's .venv)::

    python3 -m venv /tmp/tf441 && /tmp/tf441/bin/pip install transformers==4.41.2 sentencepiece protobuf
    python perf/golden_tokenizer_ids.py --python /tmp/tf441/bin/python

Exit status 1 when our ids differ from 4.41.2's anywhere.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from reasonvos.videolisa.prompts import phi3_prompt, query_for
from reasonvos.videolisa.tiny import TOKENIZER_VARIANTS, write_tokenizer_variant
from reasonvos.videolisa.tokenizer import load_tokenizer, tokenize_with_image

#: name -> (``remove_extra_whitespaces`` of the sentencepiece model, ``legacy`` saved in
#: tokenizer_config.json (None = key absent), chat tokens listed as 4.x ``additional_special_tokens``)

#: case -> (how to tokenize, text): "image" = LLaVA tokenizer_image_token, "plain" = no special tokens
CASES: dict[str, tuple[str, str]] = {
    "prompt_short": ("image", phi3_prompt(query_for("reasoning", "cat", "short"))),
    "prompt_long": ("image", phi3_prompt(query_for("reasoning", "Which animal is most likely to be hungry?",
                                                   "long"))),
    "seg_alone": ("plain", "[SEG]"),
    "seg_answer": ("plain", "Sure, [SEG]."),
}

# Runs inside the transformers 4.41.2 python: load as VideoLISA's scripts do (slow tokenizer,
# pad = unk), split the prompt at "<image>" and put -200 there with BOS kept once (LLaVA's rule).
_ORIGINAL_SIDE = r"""
import json, sys
import transformers
from transformers import AutoTokenizer

job = json.load(sys.stdin)
out = {"transformers": transformers.__version__, "folders": {}}
for name, folder in job["folders"].items():
    tok = AutoTokenizer.from_pretrained(folder, model_max_length=4096, padding_side="right", use_fast=False)
    tok.pad_token = tok.unk_token
    res = {"class": type(tok).__name__, "legacy": tok.legacy, "cases": {}}
    for case, (how, text) in job["cases"].items():
        if how == "plain":
            ids = tok(text, add_special_tokens=False).input_ids
        else:
            ids = []
            for i, chunk in enumerate(text.split("<image>")):
                chunk_ids = tok(chunk).input_ids
                if i == 0:
                    ids.extend(chunk_ids)
                else:
                    ids.append(-200)
                    ids.extend(chunk_ids[1:] if chunk_ids[:1] == [tok.bos_token_id] else chunk_ids)
        res["cases"][case] = ids
    res["seg_token_idx"] = tok("[SEG]", add_special_tokens=False).input_ids[-1]
    out["folders"][name] = res
print(json.dumps(out))
"""


def ours(folder: Path, follow_legacy_flag: bool) -> dict[str, list[int]]:
    """Our tokenizer on the same cases (``tokenize_with_image`` for the prompts)."""
    tok = load_tokenizer(folder, follow_legacy_flag=follow_legacy_flag)
    return {case: (tokenize_with_image(text, tok) if how == "image"
                   else tok(text, add_special_tokens=False).input_ids)
            for case, (how, text) in CASES.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", required=True, help="a python with transformers==4.41.2 installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="golden-tok-") as tmp:
        folders = {name: write_tokenizer_variant(Path(tmp) / name, *variant)
                   for name, variant in TOKENIZER_VARIANTS.items()}
        job = {"folders": {k: str(v) for k, v in folders.items()}, "cases": CASES}
        done = subprocess.run([args.python, "-c", _ORIGINAL_SIDE], input=json.dumps(job), text=True,
                              capture_output=True, check=False)
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return 1
        golden = json.loads(done.stdout)
        print(json.dumps(golden, indent=1))
        failed = False
        for name, folder in folders.items():
            want = golden["folders"][name]["cases"]
            for follow in (True, False):
                got = ours(folder, follow)
                # the default loader forces legacy semantics: it must match only where the flag is unset
                checked = follow or TOKENIZER_VARIANTS[name][1] is None
                for case in CASES:
                    same = got[case] == want[case]
                    status = ("PASS" if same else "FAIL") if checked else "info"
                    failed |= status == "FAIL"
                    print(f"{status} {name} follow_legacy_flag={follow} {case}: "
                          f"{'same ids' if same else f'ours {got[case]}'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
