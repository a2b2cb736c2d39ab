"""Golden arrays for the single-reference XMem path, made by the code of a given commit.

Why: multi-reference propagation (XMem2) changed ``baselines/xmem.py``; the single-reference path
must stay bit-identical to what it was. This script imports ``baselines/xmem.py`` and
``baselines/xmem_modules.py`` as they were at ``--commit`` (``git show``; default: the commit
before XMem2 support) into a temporary package and writes, for tiny random weights on CPU:

- ``probs``: ``XMemCore.step`` probabilities of 24 frames from a reference at frame 0, with a
  memory small enough that consolidation and long-term eviction both happen;
- ``masks``: ``XMemPropagator.propagate`` masks from key frame 9 (forward and backward runs).

Run: ``python perf/golden_xmem_single_ref.py [--commit REV] [--out tests/baselines/data/xmem_single_ref_golden.npz]``.
``tests/baselines/test_xmem_multi_reference.py`` compares today's code with the file.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PRE_XMEM2 = "2883e2d"  # the last commit before multi-reference propagation
SMALL = {"key_dim": 16, "value_dim": 32, "hidden_dim": 8}
STRESS = dict(size=-1, mem_every=1, max_mid_term_frames=4, min_mid_term_frames=2, num_prototypes=2,
              max_long_term_elements=6, **SMALL)


def frames(n: int, h: int, w: int, seed: int) -> list[np.ndarray]:
    """Smooth moving blobs (random noise would make every mask trivially empty or full)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.uniform(0, 255, 3)
    out = []
    for t in range(n):
        cy, cx = h / 2 + h / 4 * np.sin(t / 5), w / 2 + w / 4 * np.cos(t / 7)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (min(h, w) / 5) ** 2))
        img = base[None, None] * (1 - blob[..., None]) + (255 - base)[None, None] * blob[..., None]
        out.append(np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8))
    return out


def box(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
    return m


def compute(xmem) -> dict[str, np.ndarray]:
    """The golden cases, computed with the module ``xmem`` (the old one or today's)."""
    torch.manual_seed(0)
    net = xmem.XMemNetwork(**SMALL).eval()
    vid = frames(24, 16, 16, seed=1)
    core = xmem.XMemCore(net, xmem.XMemConfig(**STRESS))
    prop = xmem.XMemPropagator.from_network(net, xmem.XMemConfig(**STRESS), "cpu")
    probs = []
    with torch.inference_mode():
        for t, frame in enumerate(vid):
            image = prop._image(frame, t)
            mask = prop._mask(box(16, 16), tuple(image.shape[-2:])) if t == 0 else None
            probs.append(core.step(image, mask, end=t == len(vid) - 1).float().numpy())
    vid2 = frames(24, 24, 32, seed=2)
    prop2 = xmem.XMemPropagator.from_network(net, xmem.XMemConfig(size=-1, mem_every=2, **SMALL), "cpu")
    masks = np.stack(prop2.propagate(vid2, 9, box(24, 32)))
    return {"probs": np.stack(probs), "masks": masks}


def old_module(commit: str):
    """``baselines/xmem*.py`` at ``commit`` as an importable temporary package."""
    pkg = Path(tempfile.mkdtemp(prefix="xmem-golden-")) / "xmem_at_commit"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("xmem.py", "xmem_modules.py"):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:baselines/{name}"], check=True,
                              capture_output=True, text=True).stdout
        (pkg / name).write_text(text)
    sys.path.insert(0, str(pkg.parent))
    mod = importlib.import_module("xmem_at_commit.xmem")
    mod.XMemNetwork = importlib.import_module("xmem_at_commit.xmem_modules").XMemNetwork
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commit", default=PRE_XMEM2)
    ap.add_argument("--out", type=Path, default=ROOT / "tests/baselines/data/xmem_single_ref_golden.npz")
    args = ap.parse_args()
    torch.set_num_threads(1)
    golden = compute(old_module(args.commit))
    np.savez_compressed(args.out, probs=golden["probs"], masks=np.packbits(golden["masks"], axis=-1),
                        mask_shape=np.array(golden["masks"].shape), commit=np.array(args.commit),
                        torch=np.array(torch.__version__))
    fg = golden["masks"].mean()
    print(f"wrote {args.out}: probs {golden['probs'].shape}, masks {golden['masks'].shape} "
          f"(foreground {fg:.1%}), torch {torch.__version__}, commit {args.commit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
