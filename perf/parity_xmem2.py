"""XMem2 parity: the original mbzuai-metaverse/XMem2 code beside our multi-reference propagation.

Why: the paper's Post-optimization rows come from XMem2 (``xmem2_example``); ``--post-optimize
xmem2`` claims to reproduce it in-process (``XMemPropagator.propagate_refs``). This script imports
the ORIGINAL code from a local checkout (nothing is copied into the project), builds its network with
random weights (the ImageNet download skipped by its own ``pretrained_*=False`` switches), saves the
``state_dict`` and loads it through our real loader, then compares on CPU in fp32:

- the network stages (key encoder and projection, value encoder, decoder);
- the preload: permanent memory (keys, shrinkage, values) after ``put_to_permanent_memory`` of every
  reference, the empty ones going through XMem2's ``MaskMapper`` as ``_preload_permanent_memory``
  does, against ``XMemCore.preload``;
- the forward pass frame by frame (``InferenceCore.step`` with ``do_not_add_mask_to_memory`` on
  reference frames, as ``run_on_video`` calls it) against our ``XMemCore.step``, for XMem2's
  ``VIDEO_INFERENCE_CONFIG`` and for a small memory that forces consolidation and eviction;
- the final masks: the original ``run_on_video`` end to end (frames and 0/255 reference PNGs on
  disk, masks read back from its output folder; foreground = any non-black pixel) against
  ``XMemPropagator.propagate_refs``.

References: several frames including the first and the last, one of them EMPTY (a negative
reference, as VideoLISA's empty dense-frame masks give). The decoder's output bias is shifted so
that the masks are neither nearly empty nor nearly full (the foreground fraction is printed). A
sensitivity block shows that the comparison can fail: one perturbed weight, XMem's ``mem_every``
5, and XMem2's own (set-order) preload order.

Deviations in the original code made for CPU: its warm-up is hard-coded to ``cuda:0`` (the tensor
is created on the CPU instead); the tensor ``Resize`` gets ``antialias=False`` (torchvision 0.13,
XMem2's pinned version, had no antialiasing on tensors; today's default is on); ``progressbar``
(used only to extract frames from a video file) is stubbed when not installed.

Run: ``python perf/parity_xmem2.py --xmem2-repo /tmp/xmem2 [--frames 30 --seed 0]``
(``fetch github:mbzuai-metaverse/XMem2``, then ``git --git-dir=<path> archive HEAD | tar -x -C
/tmp/xmem2``). ``--exact-softmax`` builds ours with the original's top-k softmax formula and
compares at tolerance 0. Prints max |diff| per stage and PASS/FAIL against ``--tol``; exit status 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import subprocess
import sys
import tempfile
import types
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from PIL import Image
from reasonvos.baselines.xmem import XMemCore, XMemPropagator, pad_to_multiple, xmem2_config
from reasonvos.baselines.xmem_modules import load_xmem_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parity_xmem import Report, maxdiff, smooth_frames, worst  # noqa: E402

#: XMem2's VIDEO_INFERENCE_CONFIG as our XMemConfig fields (mem_every 10), and a stress variant
CONFIGS: dict[str, dict] = {
    "XMem2 VIDEO_INFERENCE_CONFIG": {},
    "consolidation + eviction stress": dict(top_k=8, mem_every=2, max_mid_term_frames=4, min_mid_term_frames=2,
                                            num_prototypes=16, max_long_term_elements=40),
}
DIMS = {"key_dim": 64, "value_dim": 512, "hidden_dim": 64}


def import_xmem2(repo: Path) -> types.SimpleNamespace:
    """The original modules from a checkout (absolute imports: ``model.*``, ``inference.*``)."""
    if not (repo / "inference" / "run_on_video.py").is_file():
        sys.exit(f"{repo}: not an XMem2 checkout (inference/run_on_video.py missing)")
    sys.path.insert(0, str(repo))
    try:
        import progressbar  # noqa: F401
    except ImportError:
        sys.modules["progressbar"] = types.ModuleType("progressbar")  # only used to extract video files
    import inference.data.video_reader as video_reader
    import inference.inference_core as inference_core
    import inference.run_on_video as run_on_video
    import model.network as network
    from dataset.range_transform import im_normalization
    from inference.data.mask_mapper import MaskMapper
    from util.configuration import VIDEO_INFERENCE_CONFIG

    return types.SimpleNamespace(network=network, inference_core=inference_core, run_on_video=run_on_video,
                                 video_reader=video_reader, MaskMapper=MaskMapper, config=VIDEO_INFERENCE_CONFIG,
                                 im_normalization=im_normalization)


@contextlib.contextmanager
def cpu_warmup():
    """``InferenceCore.__init__`` warms up on ``cuda:0``; make that tensor on the CPU."""
    zeros = torch.zeros

    def on_cpu(*args, **kwargs):
        if str(kwargs.get("device", "")).startswith("cuda"):
            kwargs["device"] = "cpu"
        return zeros(*args, **kwargs)

    with mock.patch.object(torch, "zeros", on_cpu):
        yield


def no_antialias(x2):
    """Tensor ``Resize`` as torchvision 0.13 (XMem2's pin) did it: no antialiasing."""
    return mock.patch.object(x2.video_reader.transforms, "Resize",
                             functools.partial(x2.video_reader.transforms.Resize, antialias=False))


def build_xmem2(x2, seed: int):
    """XMem2's network with random weights: random BatchNorm statistics, key projections scaled
    down (see ``perf/parity_xmem.py``: raw random keys make the original's softmax NaN)."""
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        net = x2.network.XMem(dict(DIMS), pretrained_key_encoder=False, pretrained_value_encoder=False)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    with torch.no_grad():
        net.key_proj.key_proj.weight.mul_(0.01)
        net.key_proj.d_proj.weight.mul_(0.01)
        net.key_proj.d_proj.bias.zero_()
    return net.eval()


def balance_decoder(net, frames_x: list[torch.Tensor], ref: torch.Tensor) -> None:
    """Shift the decoder's output bias by the median logit of a few frames segmented from one
    reference, so that the propagated masks are about half foreground, not trivially empty or full."""
    logits = []
    hook = net.decoder.pred.register_forward_hook(lambda m, i, o: logits.append(o.detach().flatten()))
    x0 = pad_to_multiple(frames_x[0])[0][None]
    key, shrinkage, selection, f16, f8, f4 = net.encode_key(x0)
    hidden = torch.zeros(1, 1, DIMS["hidden_dim"], *key.shape[-2:])
    value, _ = net.encode_value(x0, f16, hidden, pad_to_multiple(ref)[0][None], is_deep_update=False)
    for x in frames_x[1:4]:
        _, _, _, g16, g8, g4 = net.encode_key(pad_to_multiple(x)[0][None])
        net.segment((g16, g8, g4), value, hidden, h_out=False)
    hook.remove()
    with torch.no_grad():
        net.decoder.pred.bias.sub_(torch.cat(logits).median())


def preprocess(x2, frame: np.ndarray, size: int) -> torch.Tensor:
    """XMem2's ``VideoReader.im_transform`` (tensor Resize without antialias)."""
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode

    tf = transforms.Compose([transforms.ToTensor(), x2.im_normalization,
                             transforms.Resize(size, interpolation=InterpolationMode.BILINEAR, antialias=False)])
    return tf(Image.fromarray(frame))


def reference_masks(frames: list[np.ndarray], picks: list[int], empty: int) -> dict[int, np.ndarray]:
    """The moving ellipse of each picked frame (its red pixels) as a 0/255 mask; frame ``empty`` gets none."""
    out = {}
    for t in picks:
        f = frames[t].astype(int)
        out[t] = ((f[..., 0] > 200) & (f[..., 1] < 90)).astype(np.uint8) * 255 if t != empty else \
            np.zeros(f.shape[:2], np.uint8)
    return out


def original_core(x2, net, cfg: dict):
    config = dict(x2.config, **DIMS, **cfg)
    config["enable_long_term_count_usage"] = True  # set before run_on_video changes it (no effect on output)
    with cpu_warmup():
        core = x2.inference_core.InferenceCore(net, config=config)
    return core


def compare_stages(rep: Report, net0, net1, rng) -> None:
    image = torch.from_numpy(rng.normal(0, 1, (1, 3, 64, 96)).astype(np.float32))
    k0, s0, e0, *f0 = net0.encode_key(image, need_sk=True, need_ek=True)
    k1, s1, e1, f1 = net1.encode_key(image, need_shrinkage=True, need_selection=True)
    rep.line("key encoder + projection", worst([maxdiff(a, b) for a, b in zip([k0, s0, e0, *f0], [k1, s1, e1, *f1],
                                                                              strict=True)]))
    masks = torch.from_numpy(rng.uniform(0, 1, (1, 1, 64, 96)).astype(np.float32))
    hidden = torch.from_numpy(rng.normal(0, 1, (1, 1, 64, 4, 6)).astype(np.float32))
    v0, h0 = net0.encode_value(image, f0[0], hidden, masks, is_deep_update=True)
    v1, h1 = net1.encode_value(image, f1[0], hidden, masks, True)
    rep.line("value encoder (1 object, others = zeros) / deep update", worst([maxdiff(v0, v1), maxdiff(h0, h1)]))
    readout = torch.from_numpy(rng.normal(0, 1, (1, 1, 512, 4, 6)).astype(np.float32))
    hd0, _, p0 = net0.segment(tuple(f0), readout, hidden, h_out=True, strip_bg=False)
    hd1, p1 = net1.segment(tuple(f1), readout, hidden, True)
    rep.line("decoder + aggregate", worst([maxdiff(p0, p1), maxdiff(hd0, hd1)]))


def run_original_core(x2, net, cfg, xs, refs_small, order):
    """``_preload_permanent_memory`` then the ``run_on_video`` loop, driven step by step."""
    core, mapper = original_core(x2, net, cfg), x2.MaskMapper()
    for t in order:
        msk, _ = mapper.convert_mask(refs_small[t], exhaustive=True)
        if min(msk.shape) == 0:
            continue  # XMem2 skips an empty mask while no object is known
        core.set_all_labels(list(mapper.remappings.values()))
        core.put_to_permanent_memory(xs[t], msk)
    perm = core.memory.permanent_work_mem
    preload = (perm.key.clone(), perm.shrinkage.clone(), perm.value[0].clone())
    probs = []
    for t, x in enumerate(xs):
        msk = labels = None
        if t in refs_small:
            msk, labels = mapper.convert_mask(refs_small[t], exhaustive=True)
            core.set_all_labels(list(mapper.remappings.values()))
        probs.append(core.step(x, msk, labels, end=t == len(xs) - 1, do_not_add_mask_to_memory=msk is not None))
    return preload, probs, core


def run_ours(net, cfg, xs, refs_small, size, exact=False):
    core = XMemCore(net, xmem2_config(size=size, amp=False, exact_softmax=exact, **DIMS, **cfg), references=True)
    for t in sorted(refs_small):
        if core.memory.permanent.size == 0 and not refs_small[t].any():
            continue
        core.preload(xs[t], torch.from_numpy((refs_small[t] != 0).astype(np.float32))[None])
    perm = core.memory.permanent
    preload = (perm.key.clone(), perm.shrinkage.clone(), perm.value.clone())
    probs = []
    for t, x in enumerate(xs):
        mask = torch.from_numpy((refs_small[t] != 0).astype(np.float32))[None] if t in refs_small else None
        probs.append(core.step(x, mask, end=t == len(xs) - 1))
    return preload, probs, core


def small_refs(x2, refs: dict[int, np.ndarray], size: int) -> dict[int, np.ndarray]:
    """References at the working size, as ``VideoReader.resize_mask`` (nearest) makes them."""
    reader = types.SimpleNamespace(size=size)
    out = {}
    for t, m in refs.items():
        small = x2.video_reader.VideoReader.resize_mask(reader, torch.from_numpy(m[None, None].astype(np.float32)))
        out[t] = small[0, 0].numpy().astype(np.uint8)
    return out


def run_on_video(x2, weights: Path, frames, refs, size: int, tmp: Path) -> list[np.ndarray]:
    """The original end to end: frames and reference PNGs on disk, its output masks read back."""
    imgs, masks, out = tmp / "frames", tmp / "refs", tmp / "out"
    for d in (imgs, masks):
        d.mkdir()
    for t, f in enumerate(frames):
        Image.fromarray(f).save(imgs / f"frame_{t:06d}.png")
    for t, m in refs.items():
        Image.fromarray(m, mode="L").save(masks / f"frame_{t:06d}.png")
    with cpu_warmup(), no_antialias(x2), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        x2.run_on_video.run_on_video(str(imgs), str(masks), str(out), sorted(refs), print_progress=False,
                                     overwrite_config={"size": size, "model": str(weights)}, save_overlay=False)
    files = sorted((out / "masks").glob("*.png"))
    if len(files) != len(frames):
        sys.exit(f"run_on_video wrote {len(files)} masks for {len(frames)} frames in {out / 'masks'}")
    return [np.asarray(Image.open(p).convert("RGB")).any(-1) for p in files]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xmem2-repo", type=Path, required=True, help="checkout of mbzuai-metaverse/XMem2")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=96, help="shorter side after resizing (480 in XMem2)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--exact-softmax", action="store_true",
                    help="ours with the original's top-k softmax formula; tolerance 0 (bit-exact)")
    ap.add_argument("--commit", default=None, help="commit of the checkout to print (git archive copies have none)")
    args = ap.parse_args()
    if args.exact_softmax:
        args.tol = 0.0
    torch.set_num_threads(2)
    x2 = import_xmem2(args.xmem2_repo.resolve())
    try:
        commit = subprocess.run(["git", "-C", str(args.xmem2_repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "(not a git work tree)"
    print(f"original XMem2: {args.xmem2_repo} @ {args.commit or commit}; torch {torch.__version__}; CPU fp32; "
          f"seed {args.seed}; tolerance {args.tol:g}")
    rep = Report(args.tol)
    rng = np.random.default_rng(args.seed)
    frames = smooth_frames(rng, args.frames, 108, 150)
    n = len(frames)
    picks = [0, n // 3, n // 2, n - 1]
    refs = reference_masks(frames, picks, empty=n // 2)
    print(f"{n} frames 108x150 at shorter side {args.size}; references at {picks} (frame {n // 2} empty)")
    xs = [preprocess(x2, f, args.size) for f in frames]
    refs_small = small_refs(x2, refs, args.size)
    net0 = build_xmem2(x2, args.seed)
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        balance_decoder(net0, xs, torch.from_numpy(refs_small[0] != 0).float()[None])
        weights = Path(tmp) / "xmem2_random.pth"
        torch.save(net0.state_dict(), weights)
        net1 = load_xmem_weights(weights).eval()  # the real loader: strict keys and shapes
        compare_stages(rep, net0, net1, rng)
        for name, cfg in CONFIGS.items():
            pre0, p0, core0 = run_original_core(x2, net0, cfg, xs, refs_small, sorted(refs_small))
            pre1, p1, core1 = run_ours(net1, cfg, xs, refs_small, args.size, args.exact_softmax)
            rep.line(f"preload: permanent key/shrinkage/value [{name}]",
                     worst([maxdiff(a, b) for a, b in zip(pre0, pre1, strict=True)]),
                     f"  ({pre1[0].shape[-1]} elements)")
            rep.line(f"forward pass, {n} frames [{name}]", worst([maxdiff(a, b) for a, b in zip(p0, p1, strict=True)]),
                     f"  (long-term {core1.memory.long.size} vs {core0.memory.long_mem.size if core0.memory.long_mem.engaged() else 0}, "
                     f"working {core1.memory.work.size} vs {core0.memory.temporary_work_mem.size})")
        prop = XMemPropagator.from_network(
            net1, xmem2_config(size=args.size, amp=False, exact_softmax=args.exact_softmax, **DIMS), "cpu")
        ours = prop.propagate_refs(frames, refs)
        theirs = run_on_video(x2, weights, frames, refs, args.size, Path(tmp))
        bad = sum(int((a != b).sum()) for a, b in zip(theirs, ours, strict=True))
        rep.exact("final masks: run_on_video vs propagate_refs", bad, n * 108 * 150)
        fg = np.mean([m.mean() for m in ours])
        print(f"      foreground fraction of the propagated masks: {fg:.3f} (per frame {min(m.mean() for m in ours):.3f}"
              f" .. {max(m.mean() for m in ours):.3f}); reference frame {n // 2} output empty: "
              f"{not ours[n // 2].any()}")

        print("sensitivity (each must differ from the original, or the comparison above proves nothing):")
        _, p_orig, _ = run_original_core(x2, net0, {}, xs, refs_small, sorted(refs_small))
        state = {k: v.clone() for k, v in net0.state_dict().items()}
        state["decoder.pred.weight"][0, 0, 0, 0] += 1e-2
        torch.save(state, Path(tmp) / "perturbed.pth")
        _, p_pert, _ = run_ours(load_xmem_weights(Path(tmp) / "perturbed.pth").eval(), {}, xs, refs_small, args.size)
        _, p_mem5, _ = run_ours(net1, {"mem_every": 5}, xs, refs_small, args.size)
        set_order = list({*refs_small})  # XMem2 iterates a Python set
        _, p_set, _ = run_original_core(x2, net0, {}, xs, refs_small, set_order)
        for label, probs in (("one decoder weight + 1e-2", p_pert), ("mem_every 5 (XMem's) instead of 10", p_mem5),
                             (f"original, preload in set order {set_order}", p_set)):
            print(f"INFO  {label:<52} max|diff| = {worst([maxdiff(a, b) for a, b in zip(p_orig, probs, strict=True)]):.3e}")
    print("PASS" if rep.failed == 0 else f"FAIL ({rep.failed} stages)")
    return 0 if rep.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
