"""XMem parity: the original hkchengrex/XMem network and inference core beside ours, stage by stage.

Why: nobody can run the real ``XMem.pth`` in CI, so the risk is a silent divergence between
``reasonvos.baselines.xmem*`` and the published code. This script builds the ORIGINAL network from
a local checkout (random weights, ImageNet download patched out), saves its ``state_dict``, loads
that file through our real loader (:func:`load_xmem_weights`), and compares, on CPU in fp32:

- preprocessing: the original ``VideoReader`` transform (``ToTensor``, normalisation, torchvision
  ``Resize`` on the tensor without antialias, as the torchvision of XMem's time did) and its
  ``resize_mask`` against our ``XMemPropagator._image`` / ``_mask``;
- the key encoder + key projection, the value encoder (2 objects, deep update), the decoder
  (``segment`` with hidden-state update), and a single-object checkpoint (4-channel conv1, zero
  padded by both loaders);
- whole propagations, frame by frame (``InferenceCore.step`` vs our ``XMemCore.step``), for three
  configurations: the ``eval.py`` defaults, a small one that forces working-memory consolidation and
  long-term eviction, and one without long-term memory with unsynchronised deep updates;
- the final masks: the original ``eval.py`` post-processing (bilinear upsampling + argmax) against
  our ``XMemPropagator.propagate`` from key frame 0, with the foreground fraction of the masks;
- the key-frame output path: ``eval.py`` writes the key frame's 480p round trip of the given mask;
  our ``XMemCore`` step 0 gives the same probabilities (compared exactly after upsampling), while
  ``propagate`` returns the given mask itself (the pixels where that differs are printed);
- the per-video usage-counting switch: ``enable_long_term_count_usage`` is set per video as
  ``eval.py`` computes it (off for short videos); ours always counts, so one case runs the original
  both ways;
- a case whose masks are neither nearly empty nor nearly full: a copy of the network whose decoder
  output bias is shifted by the median logit (random weights otherwise give ~5% foreground).

``--exact-softmax`` builds ours with ``XMemConfig(exact_softmax=True)``, the original's unstable
top-k formula, and then compares every stage at tolerance 0 (bit-exact on demand); without it ours
uses the stable softmax (the default) and differs by float rounding (~1e-6).

Run: ``python perf/parity_xmem.py --xmem-repo /tmp/xmem [--frames 40 --seed 0] [--exact-softmax]``.
Prints the maximum absolute difference per stage and PASS/FAIL against ``--tol`` (default 1e-4;
observed values are ~1e-6). Exit status 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from reasonvos.baselines.xmem import XMemConfig, XMemCore, XMemPropagator
from reasonvos.baselines.xmem_modules import load_xmem_weights

CONFIGS: dict[str, dict] = {
    # eval.py defaults (docs/models.md#xmem-settings)
    "eval.py defaults": dict(top_k=30, mem_every=5, deep_update_every=-1, enable_long_term=True,
                             max_mid_term_frames=10, min_mid_term_frames=5, num_prototypes=128,
                             max_long_term_elements=10000),
    # tiny memory so that consolidation and eviction both happen within a few dozen frames
    "long-term stress": dict(top_k=8, mem_every=2, deep_update_every=-1, enable_long_term=True,
                             max_mid_term_frames=4, min_mid_term_frames=2, num_prototypes=16,
                             max_long_term_elements=40),
    "no long-term, deep update every 3": dict(top_k=30, mem_every=2, deep_update_every=3,
                                              enable_long_term=False, max_mid_term_frames=10,
                                              min_mid_term_frames=5, num_prototypes=128,
                                              max_long_term_elements=10000),
}


def import_original(repo: Path) -> types.SimpleNamespace:
    """Import the original modules from a checkout (absolute imports: ``model.*``, ``inference.*``)."""
    if not (repo / "model" / "network.py").is_file():
        sys.exit(f"{repo}: not an XMem checkout (model/network.py missing)")
    sys.path.insert(0, str(repo))
    import inference.inference_core as inference_core
    import model.network as network
    import model.resnet as resnet
    import util.tensor_util as tensor_util
    from dataset.range_transform import im_normalization
    from inference.data.video_reader import VideoReader

    return types.SimpleNamespace(network=network, resnet=resnet, inference_core=inference_core,
                                 tensor_util=tensor_util, im_normalization=im_normalization,
                                 VideoReader=VideoReader)


def build_original(orig, seed: int, scale_keys: bool = True):
    """The original XMem with random weights; the ImageNet download in its ResNets is patched out.

    A random ResNet trunk gives f16 activations of ~40, hence keys of ~40, shrinkage of ~600 and
    memory similarities of -1e4 and below. The original's top-k softmax exponentiates without
    subtracting the maximum (``model/memory_util.py`` ``do_softmax``: ``values.exp_()``), so it
    underflows to 0/0 = NaN there, while ours (``F.softmax``) stays finite. ``scale_keys`` shrinks
    the key/shrinkage projections to keep similarities in the range trained weights produce (~-1),
    where both must agree.
    """
    torch.manual_seed(seed)
    config = {"key_dim": 64, "value_dim": 512, "hidden_dim": 64}
    with mock.patch.object(orig.resnet, "load_weights_add_extra_dim", lambda *a, **k: None), \
            mock.patch.object(orig.resnet.model_zoo, "load_url", lambda *a, **k: {}), \
            contextlib.redirect_stdout(io.StringIO()):
        net = orig.network.XMem(config)
    # random BatchNorm statistics and affine parameters, so that BN is not the identity
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    if scale_keys:
        with torch.no_grad():
            net.key_proj.key_proj.weight.mul_(0.01)
            net.key_proj.d_proj.weight.mul_(0.01)
            net.key_proj.d_proj.bias.zero_()
    return net.eval()


def balanced(orig, orig_net, frames: list[np.ndarray], size: int):
    """A copy of ``orig_net`` whose decoder output bias is shifted by the median logit of a few
    frames segmented from the key frame: masks about half foreground instead of ~5%."""
    net = copy.deepcopy(orig_net)
    h, w = frames[0].shape[:2]
    reader = types.SimpleNamespace(size=size)
    mask = orig.VideoReader.resize_mask(reader, torch.from_numpy(key_mask(h, w, 0)[None, None].astype(np.float32)))[0]
    config = dict(CONFIGS["eval.py defaults"], hidden_dim=64, key_dim=64, value_dim=512,
                  enable_long_term_count_usage=True)
    core = orig.inference_core.InferenceCore(net, config=config)
    core.set_all_labels([1])
    logits = []
    hook = net.decoder.pred.register_forward_hook(lambda m, i, o: logits.append(o.detach().flatten()))
    for t, f in enumerate(frames[:4]):
        x = original_preprocess(orig, f, size)
        core.step(x, mask, [1]) if t == 0 else core.step(x)
    hook.remove()
    with torch.no_grad():
        net.decoder.pred.bias.sub_(torch.cat(logits).median())
    return net


def maxdiff(a, b) -> float:
    """Largest absolute difference; NaN if either side has a NaN (never hidden by max())."""
    if a is None and b is None:
        return 0.0
    if torch.isnan(a).any() or torch.isnan(b).any():
        return float("nan")
    return (a.double() - b.double()).abs().max().item()


def worst(diffs: list[float]) -> float:
    return float("nan") if any(d != d for d in diffs) else max(diffs, default=0.0)


class Report:
    def __init__(self, tol: float) -> None:
        self.tol = tol
        self.failed = 0

    def line(self, stage: str, diff: float, extra: str = "") -> None:
        ok = diff <= self.tol
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {stage:<58} max|diff| = {diff:.3e}{extra}")

    def exact(self, stage: str, mismatched: int, total: int) -> None:
        self.failed += mismatched != 0
        print(f"{'PASS' if mismatched == 0 else 'FAIL'}  {stage:<58} "
              f"mismatched pixels = {mismatched} / {total}")


def smooth_frames(rng: np.random.Generator, n: int, h: int, w: int) -> list[np.ndarray]:
    """A textured background with a bright ellipse that moves: something trackable, but random."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3)).astype(np.float32)
    base = torch.from_numpy(base).permute(2, 0, 1)[None]
    base = F.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0)
    frames = []
    for t in range(n):
        cy, cx = h * (0.3 + 0.4 * t / max(n - 1, 1)), w * (0.3 + 0.3 * np.sin(t / 5))
        blob = ((yy - cy) / (h / 5)) ** 2 + ((xx - cx) / (w / 6)) ** 2 < 1
        img = base.numpy().copy()
        img[blob] = [250, 40, 40]
        img += rng.normal(0, 6, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def key_mask(h: int, w: int, n: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = h * 0.3, w * 0.3
    return ((yy - cy) / (h / 5)) ** 2 + ((xx - cx) / (w / 6)) ** 2 < 1


def compare_stages(rep: Report, orig_net, ours, rng: np.random.Generator) -> None:
    image = torch.from_numpy(rng.normal(0, 1, (1, 3, 64, 96)).astype(np.float32))
    k0, s0, e0, *f0 = orig_net.encode_key(image, need_sk=True, need_ek=True)
    k1, s1, e1, f1 = ours.encode_key(image, need_shrinkage=True, need_selection=True)
    rep.line("key encoder f16/f8/f4", worst([maxdiff(a, b) for a, b in zip(f0, f1, strict=True)]))
    rep.line("key projection key/shrinkage/selection",
             worst([maxdiff(k0, k1), maxdiff(s0, s1), maxdiff(e0, e1)]))

    masks = torch.from_numpy(rng.uniform(0, 1, (1, 2, 64, 96)).astype(np.float32))
    hidden = torch.from_numpy(rng.normal(0, 1, (1, 2, 64, 4, 6)).astype(np.float32))
    v0, h0 = orig_net.encode_value(image, f0[0], hidden, masks, is_deep_update=True)
    v1, h1 = ours.encode_value(image, f1[0], hidden, masks, True)
    rep.line("value encoder (2 objects) value / deep-updated hidden", worst([maxdiff(v0, v1), maxdiff(h0, h1)]))

    readout = torch.from_numpy(rng.normal(0, 1, (1, 2, 512, 4, 6)).astype(np.float32))
    hd0, _, p0 = orig_net.segment(tuple(f0), readout, hidden, h_out=True, strip_bg=False)
    hd1, p1 = ours.segment(tuple(f1), readout, hidden, True)
    rep.line("decoder + aggregate: prob / updated hidden", worst([maxdiff(p0, p1), maxdiff(hd0, hd1)]))


def compare_single_object(rep: Report, orig, orig_net, tmp: Path, rng) -> None:
    """A 4-input-channel value_encoder.conv1 (single-object weights) is zero padded by both."""
    state = {k: v.clone() for k, v in orig_net.state_dict().items()}
    state["value_encoder.conv1.weight"] = state["value_encoder.conv1.weight"][:, :4].clone()
    path = tmp / "xmem_single_object.pth"
    torch.save(state, path)
    with mock.patch.object(orig.resnet, "load_weights_add_extra_dim", lambda *a, **k: None), \
            mock.patch.object(orig.resnet.model_zoo, "load_url", lambda *a, **k: {}), \
            contextlib.redirect_stdout(io.StringIO()):
        other = orig.network.XMem({}, str(path), map_location="cpu").eval()
    ours = load_xmem_weights(path).eval()
    image = torch.from_numpy(rng.normal(0, 1, (1, 3, 64, 96)).astype(np.float32))
    masks = torch.from_numpy(rng.uniform(0, 1, (1, 2, 64, 96)).astype(np.float32))
    f16 = other.encode_key(image)[3]
    hidden = torch.zeros(1, 2, 64, 4, 6)
    v0, _ = other.encode_value(image, f16, hidden, masks)
    v1, _ = ours.encode_value(image, f16, hidden, masks, True)
    rep.line("single-object checkpoint (4-channel conv1) value", maxdiff(v0, v1))


def original_preprocess(orig, frame: np.ndarray, size: int) -> torch.Tensor:
    """``VideoReader.im_transform`` as XMem ran it (tensor Resize had no antialias back then)."""
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode

    tf = transforms.Compose([transforms.ToTensor(), orig.im_normalization,
                             transforms.Resize(size, interpolation=InterpolationMode.BILINEAR,
                                               antialias=False)])
    from PIL import Image

    return tf(Image.fromarray(frame))


def eval_py_counts_usage(cfg: dict, num_frames: int) -> bool:
    """``eval.py``'s per-video switch: count long-term usage only if the video can fill it."""
    return cfg["enable_long_term"] and (
        num_frames / (cfg["max_mid_term_frames"] - cfg["min_mid_term_frames"]) * cfg["num_prototypes"]
        >= cfg["max_long_term_elements"])


def compare_propagation(rep: Report, orig, orig_net, ours_net, name: str, cfg: dict,
                        frames: list[np.ndarray], size: int, exact: bool = False,
                        count_usage: bool | None = None) -> None:
    h, w = frames[0].shape[:2]
    mask = key_mask(h, w, len(frames))
    ours_cfg = XMemConfig(size=size, amp=False, exact_softmax=exact, **cfg)
    prop = XMemPropagator.from_network(ours_net, ours_cfg, device="cpu")

    # preprocessing
    pre = worst([maxdiff(original_preprocess(orig, f, size), prop._image(f, i))
                 for i, f in enumerate(frames)])
    reader = types.SimpleNamespace(size=size)
    m0 = orig.VideoReader.resize_mask(reader, torch.from_numpy(mask[None, None].astype(np.float32)))[0]
    x0 = original_preprocess(orig, frames[0], size)
    m1 = prop._mask(mask, tuple(x0.shape[-2:]))
    if name == next(iter(CONFIGS)):
        rep.line(f"preprocessing {h}x{w} -> shorter side {size} (image, key mask)",
                 worst([pre, maxdiff(m0, m1)]))

    # frame-by-frame inference cores
    config = dict(cfg, hidden_dim=64, key_dim=64, value_dim=512)
    counting = eval_py_counts_usage(cfg, len(frames)) if count_usage is None else count_usage
    config["enable_long_term_count_usage"] = counting
    core0 = orig.inference_core.InferenceCore(orig_net, config=config)
    core0.set_all_labels([1])
    core1 = XMemCore(ours_net, ours_cfg)
    diffs, probs0 = [], []
    for t, f in enumerate(frames):
        x = original_preprocess(orig, f, size)
        end = t == len(frames) - 1
        if t == 0:
            p0 = core0.step(x, m0, [1], end=end)
            p1 = core1.step(x, m0, end=end)
        else:
            p0 = core0.step(x, end=end)
            p1 = core1.step(x, end=end)
        diffs.append(maxdiff(p0, p1))
        probs0.append(p0)
        if t == 0:
            key1 = p1
    lt = core1.memory.long.size
    rep.line(f"propagation [{name}], {len(frames)} frames", worst(diffs),
             f"  (ours: long-term {lt} elements, working {core1.memory.work.size}; original counts "
             f"long-term usage: {counting})")

    # final masks: eval.py post-processing (also on the key frame) vs our propagate()
    def upsampled(p):
        return (F.interpolate(p.unsqueeze(1), (h, w), mode="bilinear", align_corners=False)[:, 0]
                .max(0).indices == 1).numpy()

    masks0 = [upsampled(p) for p in probs0]
    masks1 = prop.propagate(frames, 0, mask)
    bad = sum(int((a != b).sum()) for a, b in zip(masks0[1:], masks1[1:], strict=True))
    rep.exact(f"final masks [{name}] (eval.py upsample+argmax vs propagate)", bad, (len(frames) - 1) * h * w)
    rep.exact(f"key-frame output [{name}] (eval.py round trip vs XMemCore step 0)",
              int((masks0[0] != upsampled(key1)).sum()), h * w)
    fg = np.mean([m.mean() for m in masks1[1:]])
    print(f"      (mean foreground fraction of the propagated masks: {fg:.3f}; propagate returns the given key "
          f"mask, {int((masks0[0] != masks1[0]).sum())} pixels from eval.py's round trip)")


def unscaled_note(orig, seed: int, frames: list[np.ndarray], size: int, tmp: Path) -> None:
    """Informational: with raw random keys the original's softmax underflows (see build_original)."""
    net0 = build_original(orig, seed, scale_keys=False)
    path = tmp / "xmem_unscaled.pth"
    torch.save(net0.state_dict(), path)
    net1 = load_xmem_weights(path).eval()
    cfg = CONFIGS["eval.py defaults"]
    config = dict(cfg, hidden_dim=64, key_dim=64, value_dim=512, enable_long_term_count_usage=True)
    core0 = orig.inference_core.InferenceCore(net0, config=config)
    core0.set_all_labels([1])
    core1 = XMemCore(net1, XMemConfig(size=size, amp=False, **cfg))
    h, w = frames[0].shape[:2]
    m0 = orig.VideoReader.resize_mask(types.SimpleNamespace(size=size), torch.from_numpy(
        key_mask(h, w, len(frames))[None, None].astype(np.float32)))[0]
    nan0 = nan1 = 0
    for t, f in enumerate(frames[:4]):
        x = original_preprocess(orig, f, size)
        p0 = core0.step(x, m0, [1]) if t == 0 else core0.step(x)
        p1 = core1.step(x, m0) if t == 0 else core1.step(x)
        nan0 += bool(torch.isnan(p0).any())
        nan1 += bool(torch.isnan(p1).any())
    print(f"INFO  unscaled random keys (similarities ~-1e4): frames with NaN in 4: original {nan0}, "
          f"ours {nan1} (original do_softmax exponentiates without max subtraction)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xmem-repo", type=Path, required=True, help="checkout of hkchengrex/XMem")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=96, help="shorter side after resizing (480 in eval.py)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--exact-softmax", action="store_true",
                    help="ours with the original's top-k softmax formula; tolerance 0 (bit-exact)")
    ap.add_argument("--commit", default=None,
                    help="commit of the checkout to print when it is not a git work tree (git archive)")
    args = ap.parse_args()
    if args.exact_softmax:
        args.tol = 0.0
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    orig = import_original(args.xmem_repo.resolve())
    try:
        commit = subprocess.run(["git", "-C", str(args.xmem_repo), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "(not a git work tree)"
    commit = args.commit or commit
    print(f"original XMem: {args.xmem_repo} @ {commit}; torch {torch.__version__}; CPU fp32; "
          f"seed {args.seed}; tolerance {args.tol:g}; our softmax: "
          f"{'the original formula (exact_softmax)' if args.exact_softmax else 'stable (default)'}")
    rep = Report(args.tol)
    rng = np.random.default_rng(args.seed)
    orig_net = build_original(orig, args.seed)
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        path = Path(tmp) / "xmem_random.pth"
        torch.save(orig_net.state_dict(), path)
        ours = load_xmem_weights(path).eval()  # the real loader: strict keys and shapes
        print(f"loaded {len(orig_net.state_dict())} tensors from the original state_dict through "
              f"load_xmem_weights (strict)")
        compare_stages(rep, orig_net, ours, rng)
        compare_single_object(rep, orig, orig_net, Path(tmp), rng)
        frames = smooth_frames(rng, args.frames, 108, 150)
        exact = args.exact_softmax
        for name, cfg in CONFIGS.items():
            compare_propagation(rep, orig, orig_net, ours, name, cfg, frames, args.size, exact)
        defaults = CONFIGS["eval.py defaults"]
        compare_propagation(rep, orig, orig_net, ours, "eval.py defaults, usage counted", defaults, frames,
                            args.size, exact, count_usage=True)
        net_b = balanced(orig, orig_net, frames, args.size)
        torch.save(net_b.state_dict(), Path(tmp) / "xmem_balanced.pth")
        ours_b = load_xmem_weights(Path(tmp) / "xmem_balanced.pth").eval()
        for name in ("eval.py defaults", "long-term stress"):
            compare_propagation(rep, orig, net_b, ours_b, f"{name}, balanced masks", CONFIGS[name], frames,
                                args.size, exact)
        unscaled_note(orig, args.seed, frames, args.size, Path(tmp))
    print("PASS" if rep.failed == 0 else f"FAIL ({rep.failed} stages)")
    return 0 if rep.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
