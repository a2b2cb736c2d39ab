"""XMem inference: working, sensory and long-term memory, and bidirectional mask propagation.

Reproduces the official inference procedure (docs/models.md#xmem) for one object group:
every referring expression is an independent run, so all objects are known on the key frame.

- Working memory keeps the reference frame plus recent memory frames (one every ``mem_every``);
  when it reaches ``max_mid_term_frames`` frames, all but the reference frame and the newest
  ``min_mid_term_frames - 1`` frames are consolidated into ``num_prototypes`` prototypes (the most
  used keys, values read out with the candidates' affinity) that move to long-term memory.
- Long-term memory is capped at ``max_long_term_elements``: the least used elements (use count over
  lifetime) are dropped before new prototypes come in. Memory therefore stays bounded on any length.
- Readout is a top-k softmax over the selection-weighted, shrinkage-scaled negative L2 similarity.
- Sensory memory (hidden state) is updated on every frame and deep-updated on memory frames.

Propagation from a key frame k runs two fresh memories, over k..T-1 and over k..0 (docs/models.md#bidirectional-propagation).

Multi-reference propagation (XMem2 / XMem++, VideoLISA's post-optimisation; docs/models.md#xmem2):
:meth:`XMemPropagator.propagate_refs` preloads every reference frame into a *permanent* memory
(never consolidated, evicted or usage-counted), then runs one forward pass over all frames. The
readout takes one top-k softmax over [long-term, working, permanent]; consolidation may take every
working frame but the newest ``min_mid_term_frames`` (there is no reference frame to spare); a
reference frame outputs its own mask and re-anchors the sensory memory but is not stored again.
The single-reference path above is untouched by it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from reasonvos.errors import InputError

from .xmem_modules import XMemNetwork, aggregate, load_xmem_weights


class EmptyReferencesError(InputError):
    """Every reference mask given to :meth:`XMemPropagator.propagate_refs` is empty (XMem2 raises
    ``ValueError("No valid masks provided!")``); callers decide the policy."""

    def __init__(self, frames: Sequence[int]) -> None:
        super().__init__(None, f"all {len(frames)} reference masks are empty (frames {list(frames)})")


IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


@dataclass
class XMemConfig:
    """Inference settings; defaults are the official ``eval.py`` values (docs/models.md#xmem-settings)."""

    top_k: int = 30
    mem_every: int = 5
    deep_update_every: int = -1  # < 0: deep update on memory frames
    enable_long_term: bool = True
    max_mid_term_frames: int = 10
    min_mid_term_frames: int = 5
    num_prototypes: int = 128
    max_long_term_elements: int = 10000
    size: int = 480  # shorter side; -1 keeps the original resolution
    amp: bool = True  # fp16 autocast on CUDA, as the original's default
    # the original's top-k softmax (exp without subtracting the maximum; the stable form only for
    # queries where it would give NaN): bit-exact with the original on demand, off by default
    exact_softmax: bool = False
    # dimensions of a randomly initialised network (weights decide them otherwise)
    key_dim: int = 64
    value_dim: int = 512
    hidden_dim: int = 64

    def __post_init__(self) -> None:
        if self.mem_every < 1 or self.top_k < 1 or self.num_prototypes < 1:
            raise ValueError("mem_every, top_k and num_prototypes must be >= 1")
        if not 1 <= self.min_mid_term_frames < self.max_mid_term_frames:
            raise ValueError("need 1 <= min_mid_term_frames < max_mid_term_frames")
        if self.max_long_term_elements <= self.num_prototypes:
            raise ValueError("max_long_term_elements must exceed num_prototypes")

    def as_dict(self) -> dict:
        return asdict(self)


#: XMem2's ``VIDEO_INFERENCE_CONFIG`` differs from XMem's ``eval.py`` in ``mem_every`` only
#: (docs/models.md#xmem2-settings); its AMP is always on, which ``amp=True`` already gives on CUDA
XMEM2_OVERRIDES: dict[str, int] = {"mem_every": 10}


def xmem2_config(**overrides) -> XMemConfig:
    """XMem2's inference settings (``mem_every`` 10, the rest XMem's), with ``overrides``."""
    return XMemConfig(**{**XMEM2_OVERRIDES, **overrides})


class FrameSource(Protocol):
    """Anything indexable that yields RGB uint8 (H, W, 3) frames: a list, or a lazy loader."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


# -- memory ---------------------------------------------------------------------------------------


def similarity(mem_key, mem_shrinkage, query_key, query_selection) -> torch.Tensor:
    """(1, N, Q): negative selection-weighted squared distance, times shrinkage / sqrt(Ck).

    mem_key (1, Ck, N), mem_shrinkage (1, 1, N) or None, query_key/query_selection (1, Ck, Q).
    """
    ck = mem_key.shape[1]
    mk = mem_key.transpose(1, 2)
    if query_selection is not None:
        a_sq = mk.pow(2) @ query_selection
        two_ab = 2 * (mk @ (query_key * query_selection))
        b_sq = (query_selection * query_key.pow(2)).sum(1, keepdim=True)
        sim = -a_sq + two_ab - b_sq
    else:
        sim = -mk.pow(2).sum(2, keepdim=True) + 2 * (mk @ query_key)
    if mem_shrinkage is not None:
        sim = sim * mem_shrinkage.transpose(1, 2)
    return sim / math.sqrt(ck)


def _original_softmax(x: torch.Tensor, top_k: bool) -> torch.Tensor:
    """The original ``do_softmax`` formulas: with top-k, ``exp(x) / sum`` without subtracting the
    maximum (it overflows or underflows to NaN on large similarities); without, ``exp(x - max) / sum``.
    Queries (columns) where the top-k formula gives a non-finite weight take the stable softmax."""
    if not top_k:
        e = torch.exp(x - x.max(dim=1, keepdim=True).values)
        return e / e.sum(dim=1, keepdim=True)
    e = x.exp()
    weights = e / e.sum(dim=1, keepdim=True)
    bad = ~torch.isfinite(weights).all(dim=1, keepdim=True)
    if bool(bad.any()):
        weights = torch.where(bad, F.softmax(x, dim=1), weights)
    return weights


def softmax_affinity(sim: torch.Tensor, top_k: int | None, exact: bool = False) -> torch.Tensor:
    """Softmax over memory (dim 1), restricted to each query's ``top_k`` best memory elements.

    ``exact`` uses the original's formulas (:func:`_original_softmax`) instead of ``F.softmax``.
    """
    if top_k is None or top_k >= sim.shape[1]:
        return _original_softmax(sim, top_k is not None) if exact else F.softmax(sim, dim=1)
    values, indices = torch.topk(sim, k=top_k, dim=1)
    weights = _original_softmax(values, True) if exact else F.softmax(values, dim=1)
    return torch.zeros_like(sim).scatter_(1, indices, weights)


@dataclass
class _Store:
    """Keys (1, Ck, N), shrinkage (1, 1, N), selection (1, Ck, N) or None, values (K, Cv, N),
    and per-element usage statistics (use count, lifetime) for eviction and consolidation."""

    key: torch.Tensor | None = None
    shrinkage: torch.Tensor | None = None
    selection: torch.Tensor | None = None
    value: torch.Tensor | None = None
    use: torch.Tensor | None = None
    life: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return 0 if self.key is None else self.key.shape[-1]

    def add(self, key, shrinkage, selection, value) -> None:
        n = key.shape[-1]
        use = torch.zeros(1, 1, n, device=key.device, dtype=torch.float32)
        life = use + 1e-7
        parts = {"key": key, "shrinkage": shrinkage, "selection": selection, "value": value,
                 "use": use, "life": life}
        for name, new in parts.items():
            old = getattr(self, name)
            if new is None:
                continue
            setattr(self, name, new if old is None else torch.cat([old, new], -1))

    def record_usage(self, usage: torch.Tensor) -> None:
        self.use = self.use + usage.view_as(self.use).float()
        self.life = self.life + 1

    def usage(self) -> torch.Tensor:
        return self.use / self.life

    def keep(self, index: torch.Tensor | slice) -> None:
        for name in ("key", "shrinkage", "selection", "value", "use", "life"):
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, t[..., index])


class MemoryBank:
    """Working + long-term (+ permanent) memory and the sensory hidden state of one propagation run.

    Long-term usage is always counted (the original counts it only when the video is long enough
    to fill long-term memory; counting changes no output, and eviction can never hit an uncounted
    store).

    ``permanent=True`` is XMem2's memory: references live in a permanent store that is read with
    the others but never consolidated, evicted, counted or usage-recorded; consolidation starts at
    working frame 0; stores keep float32 (XMem2's ``torch.cat`` promotion does the same under AMP).
    """

    def __init__(self, config: XMemConfig, permanent: bool = False) -> None:
        self.cfg = config
        self.work = _Store()
        self.long = _Store()
        self.permanent: _Store | None = _Store() if permanent else None
        self.hidden: torch.Tensor | None = None
        self.frame_elements: int | None = None  # HW of one memory frame at stride 16

    def read(self, query_key: torch.Tensor, query_selection: torch.Tensor | None) -> torch.Tensor:
        """Memory readout (K, Cv, h, w) for a query key (1, Ck, h, w)."""
        h, w = query_key.shape[-2:]
        qk = query_key.flatten(2)
        qe = None if query_selection is None else query_selection.flatten(2)
        use_long = self.cfg.enable_long_term and self.long.size > 0
        if use_long:
            key = torch.cat([self.long.key, self.work.key], -1)
            shrinkage = torch.cat([self.long.shrinkage, self.work.shrinkage], -1)
            value = torch.cat([self.long.value, self.work.value], -1)
        else:
            key, shrinkage, value = self.work.key, self.work.shrinkage, self.work.value
        perm = self.permanent
        if perm is not None and perm.size > 0:  # XMem2: [long, working, permanent] under one top-k
            parts = [(s.key, s.shrinkage, s.value) for s in (self.long if use_long else None, self.work, perm)
                     if s is not None and s.size > 0]
            key, shrinkage, value = (torch.cat([p[i] for p in parts], -1) for i in range(3))
        affinity = softmax_affinity(similarity(key, shrinkage, qk, qe), self.cfg.top_k, self.cfg.exact_softmax)
        if self.cfg.enable_long_term:
            usage = affinity.sum(2)
            n_long = self.long.size if use_long else 0
            if self.work.size > 0:
                self.work.record_usage(usage[:, n_long:n_long + self.work.size])
            if use_long:
                self.long.record_usage(usage[:, :n_long])
        readout = value @ affinity.to(value.dtype)  # (K, Cv, Q)
        return readout.view(value.shape[0], value.shape[1], h, w)

    def add(self, key, shrinkage, selection, value) -> None:
        """Add one memory frame: key (1, Ck, h, w), value (1, K, Cv, h, w); compress if full."""
        if self.frame_elements is None:
            self.frame_elements = key.shape[-2] * key.shape[-1]
        sel = selection.flatten(2) if (selection is not None and self.cfg.enable_long_term) else None
        key, shrinkage, value = key.flatten(2), shrinkage.flatten(2), value[0].flatten(2)
        if self.permanent is not None:
            key, shrinkage, value = key.float(), shrinkage.float(), value.float()
            sel = None if sel is None else sel.float()
        self.work.add(key, shrinkage, sel, value)
        if not self.cfg.enable_long_term:
            return
        if self.work.size >= self.cfg.max_mid_term_frames * self.frame_elements:
            room = self.cfg.max_long_term_elements - self.cfg.num_prototypes
            if self.long.size >= room:
                self._evict(room)
            self._consolidate()

    def add_permanent(self, key, shrinkage, value) -> None:
        """Add one reference frame to the permanent store (float32; not counted towards the
        consolidation trigger)."""
        if self.permanent is None:
            raise RuntimeError("this memory has no permanent store (MemoryBank(permanent=True))")
        if self.frame_elements is None:
            self.frame_elements = key.shape[-2] * key.shape[-1]
        self.permanent.add(key.flatten(2).float(), shrinkage.flatten(2).float(), None,
                           value[0].flatten(2).float())

    def _evict(self, max_size: int) -> None:
        """Drop the least used long-term elements (usage normalised by lifetime)."""
        n_drop = self.long.size - max_size
        if n_drop <= 0:
            return
        usage = self.long.usage().flatten()
        threshold = torch.topk(usage, k=n_drop, largest=False, sorted=True).values[-1]
        self.long.keep(usage > threshold)

    def _consolidate(self) -> None:
        """Turn the middle of working memory into prototypes and move them to long-term memory.

        XMem: the reference frame (first HW elements) and the newest ``min_mid_term_frames - 1``
        frames stay in working memory. XMem2 (permanent store): the references are elsewhere, so
        everything but the newest ``min_mid_term_frames`` frames is a candidate.
        """
        hw = self.frame_elements
        if self.permanent is not None:
            start, end = 0, self.work.size - self.cfg.min_mid_term_frames * hw
        else:
            start, end = hw, self.work.size - (self.cfg.min_mid_term_frames - 1) * hw
        sl = slice(start, end)
        cand_key = self.work.key[..., sl]
        cand_shrinkage = self.work.shrinkage[..., sl]
        cand_selection = self.work.selection[..., sl] if self.work.selection is not None else None
        cand_value = self.work.value[..., sl]
        usage = self.work.usage()[..., sl].flatten()
        # the original needs at least num_prototypes candidates; tiny frames may have fewer
        k = min(self.cfg.num_prototypes, usage.numel())
        proto = torch.topk(usage, k=k, sorted=True).indices
        proto_key = cand_key[..., proto]
        proto_selection = cand_selection[..., proto] if cand_selection is not None else None
        affinity = softmax_affinity(
            similarity(cand_key, cand_shrinkage, proto_key, proto_selection), None, self.cfg.exact_softmax
        )
        proto_value = cand_value @ affinity.to(cand_value.dtype)
        proto_shrinkage = cand_shrinkage @ affinity.to(cand_shrinkage.dtype)
        keep = torch.ones(self.work.size, dtype=torch.bool, device=cand_key.device)
        keep[sl] = False
        self.work.keep(keep)
        self.long.add(proto_key, proto_shrinkage, None, proto_value)


# -- one direction --------------------------------------------------------------------------------


def pad_to_multiple(x: torch.Tensor, d: int = 16) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad the last two dims to multiples of ``d``, split evenly on both sides (as XMem does)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % d, (-w) % d
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return F.pad(x, pad), pad


def unpad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]


@dataclass
class MemoryStats:
    """Peak memory sizes (in elements = positions at stride 16) seen during a run."""

    frame_elements: int = 0
    peak_working: int = 0
    peak_long_term: int = 0
    memory_frames: int = 0
    per_direction: list[dict] = field(default_factory=list)


class XMemCore:
    """One propagation run: call :meth:`step` once per frame, the first time with the mask.

    ``references=True`` is XMem2's procedure: :meth:`preload` the reference frames first, then
    :meth:`step` over every frame, passing each reference frame's mask again on its turn.
    """

    def __init__(self, net: XMemNetwork, config: XMemConfig, references: bool = False) -> None:
        self.net = net
        self.cfg = config
        self.references = references
        self.memory = MemoryBank(config, permanent=references)
        self.t = -1
        self.last_memory_t = 0
        self.last_deep_t = -config.deep_update_every
        self.memory_frames = 0
        self.num_objects = 0

    def step(self, image: torch.Tensor, mask: torch.Tensor | None = None, end: bool = False
             ) -> torch.Tensor:
        """Probabilities with background (K+1, H, W) for a normalised (3, H, W) image.

        ``mask`` (K, H, W) in [0, 1] is given on the reference frame only; ``end`` marks the last
        frame (nothing is memorised after it).
        """
        cfg = self.cfg
        self.t += 1
        if self.references and self.memory.permanent.size == 0:
            raise ValueError("preload at least one non-empty reference before the first step")
        if self.t == 0 and mask is None and not self.references:
            raise ValueError("the first step needs the reference mask")
        image, pad = pad_to_multiple(image)
        image = image.unsqueeze(0)
        is_memory = ((self.t - self.last_memory_t >= cfg.mem_every) or mask is not None) and not end
        need_segment = mask is None if self.references else (self.t > 0 and mask is None)
        sync = cfg.deep_update_every < 0
        deep = is_memory if sync else self.t - self.last_deep_t >= cfg.deep_update_every and not end
        normal_update = (not sync or not deep) and not end

        key, shrinkage, selection, feats = self.net.encode_key(
            image, need_shrinkage=is_memory, need_selection=cfg.enable_long_term or need_segment
        )
        if need_segment:
            readout = self.memory.read(key, selection).unsqueeze(0)
            hidden, prob = self.net.segment(feats, readout, self.memory.hidden, normal_update)
            prob = prob[0]
            if normal_update:
                self.memory.hidden = hidden
        else:
            mask, _ = pad_to_multiple(mask)
            # XMem2 aggregates the mask as given (float32); XMem in the features' dtype
            prob = aggregate(mask if self.references else mask.to(feats[0].dtype), dim=0)
            self.num_objects = mask.shape[0]
            if not self.references or self.memory.hidden is None:  # XMem2 keeps the sensory memory
                self._zero_hidden(key)
        if is_memory:
            value, hidden = self.net.encode_value(
                image, feats[0], self.memory.hidden, prob[1:].unsqueeze(0), deep
            )
            if not (self.references and mask is not None):  # XMem2: references are preloaded already
                self.memory.add(key, shrinkage, selection, value)
                self.memory_frames += 1
            self.last_memory_t = self.t
            if deep:
                self.memory.hidden = hidden
                self.last_deep_t = self.t
        return unpad(prob, pad)

    def _zero_hidden(self, key: torch.Tensor) -> None:
        h, w = key.shape[-2:]
        self.memory.hidden = torch.zeros(1, self.num_objects, self.net.hidden_dim, h, w, device=key.device)

    def preload(self, image: torch.Tensor, mask: torch.Tensor) -> None:
        """Put one reference frame (normalised (3, H, W) image, (K, H, W) mask) into permanent
        memory, as XMem2's ``put_to_permanent_memory``: key, value without deep update (the
        sensory memory, zeros when new, is not changed). Call it outside autocast (XMem2 does)."""
        if not self.references:
            raise RuntimeError("preload needs XMemCore(references=True)")
        image, _ = pad_to_multiple(image)
        image = image.unsqueeze(0)
        key, shrinkage, _, feats = self.net.encode_key(image, need_shrinkage=True, need_selection=True)
        mask, _ = pad_to_multiple(mask)
        prob = aggregate(mask, dim=0)
        self.num_objects = mask.shape[0]
        if self.memory.hidden is None:
            self._zero_hidden(key)
        value, _ = self.net.encode_value(image, feats[0], self.memory.hidden, prob[1:].unsqueeze(0), False)
        self.memory.add_permanent(key, shrinkage, value)


# -- the propagator -------------------------------------------------------------------------------


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class XMemPropagator:
    """Propagates one object's mask from a key frame through a whole video with XMem.

    ``weights_path`` is the official ``XMem.pth`` (or ``None`` for a randomly initialised network,
    for tests); nothing is downloaded.
    """

    name = "xmem"

    def __init__(
        self, weights_path: str | Path | None = None, config: XMemConfig | None = None,
        device: str | torch.device | None = None, seed: int | None = None,
    ) -> None:
        self.config = config or XMemConfig()
        self.device = _device(device)
        self.weights_path = None if weights_path is None else Path(weights_path)
        if self.weights_path is None:
            if seed is not None:
                torch.manual_seed(seed)
            net = XMemNetwork(self.config.key_dim, self.config.value_dim, self.config.hidden_dim)
        else:
            net = load_xmem_weights(self.weights_path)
            # the checkpoint decides the dimensions; keep the recorded config truthful
            self.config = replace(self.config, key_dim=net.key_dim, value_dim=net.value_dim,
                                  hidden_dim=net.hidden_dim)
        self.net = net.to(self.device).eval()
        self.last_stats = MemoryStats()

    @classmethod
    def from_network(cls, net: torch.nn.Module, config: XMemConfig | None = None,
                     device: str | torch.device | None = None) -> XMemPropagator:
        """A propagator around an already built network (shares it; no copy, no loading)."""
        self = cls.__new__(cls)
        self.config = config or XMemConfig()
        self.device = _device(device)
        self.weights_path = None
        self.net = net.to(self.device).eval()
        self.last_stats = MemoryStats()
        return self

    def describe(self) -> dict:
        return {"propagator": self.name, "weights": str(self.weights_path) if self.weights_path else None,
                "config": self.config.as_dict()}

    # preprocessing (docs/models.md#xmem-preprocessing)
    def _target_size(self, h: int, w: int) -> tuple[int, int]:
        """torchvision ``Resize(size)``: shorter side to ``size``, longer ``int(size * long / short)``.

        The key mask is resized (nearest) to the same size; the original computes the mask's size
        as ``int(long / short * size)``, which equals this up to float rounding (where it would fail).
        """
        s = self.config.size
        if s is None or s < 0:
            return h, w
        if h <= w:
            return s, int(s * w / h)
        return int(s * h / w), s

    def _image(self, frame: np.ndarray, index: int) -> torch.Tensor:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(None, f"frame {index}: expected an RGB uint8 (H, W, 3) array, "
                                   f"got {frame.dtype} {frame.shape}")
        x = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device).permute(2, 0, 1).float() / 255
        mean = torch.tensor(IMAGE_MEAN, device=self.device)[:, None, None]
        std = torch.tensor(IMAGE_STD, device=self.device)[:, None, None]
        x = (x - mean) / std
        size = self._target_size(*frame.shape[:2])
        if size != tuple(frame.shape[:2]):
            x = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]
        return x

    def _mask(self, mask: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32)).to(self.device)[None, None]
        if tuple(m.shape[-2:]) != size:
            m = F.interpolate(m, size=size, mode="nearest")
        return m[0]

    def _autocast(self):
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return nullcontext()

    def _run(self, frames: FrameSource, order: Sequence[int], key_mask: np.ndarray,
             out: list[np.ndarray | None]) -> dict:
        core = XMemCore(self.net, self.config)
        peak_work = peak_long = 0
        for i, t in enumerate(order):
            frame = frames[t]
            h, w = np.asarray(frame).shape[:2]
            if (h, w) != key_mask.shape:
                raise InputError(None, f"frame {t} is {h}x{w} but the key mask is "
                                       f"{key_mask.shape[0]}x{key_mask.shape[1]}")
            image = self._image(frame, t)
            mask = self._mask(key_mask, tuple(image.shape[-2:])) if i == 0 else None
            prob = core.step(image, mask, end=(i == len(order) - 1))
            peak_work = max(peak_work, core.memory.work.size)
            peak_long = max(peak_long, core.memory.long.size)
            if i == 0:
                continue  # the key frame's output is the given mask itself
            if tuple(prob.shape[-2:]) != (h, w):
                prob = F.interpolate(prob[None].float(), size=(h, w), mode="bilinear",
                                     align_corners=False)[0]
            out[t] = (prob.argmax(0) == 1).cpu().numpy()
        return {"frames": len(order), "frame_elements": core.memory.frame_elements or 0,
                "peak_working": peak_work, "peak_long_term": peak_long,
                "memory_frames": core.memory_frames}

    @torch.inference_mode()
    def propagate(
        self, frames: FrameSource, key_frame: int, key_mask: np.ndarray,
        on_direction: Callable[[str, list[int]], None] | None = None,
    ) -> list[np.ndarray]:
        """Boolean masks for every frame, given ``key_mask`` on frame ``key_frame``.

        Two independent runs: forward over ``key_frame..T-1`` and backward over ``key_frame..0``.
        """
        n = len(frames)
        if not 0 <= key_frame < n:
            raise InputError(None, f"key frame {key_frame} is outside the video's {n} frames")
        key_mask = np.asarray(key_mask).astype(bool)
        if key_mask.ndim != 2:
            raise InputError(None, f"key mask must be 2-D, got shape {key_mask.shape}")
        out: list[np.ndarray | None] = [None] * n
        out[key_frame] = key_mask.copy()
        directions = [("forward", list(range(key_frame, n))), ("backward", list(range(key_frame, -1, -1)))]
        stats = MemoryStats()
        with self._autocast():
            for label, order in directions:
                if len(order) < 2:
                    continue
                if on_direction is not None:
                    on_direction(label, order)
                info = self._run(frames, order, key_mask, out)
                info["direction"] = label
                stats.per_direction.append(info)
                stats.frame_elements = info["frame_elements"]
                stats.peak_working = max(stats.peak_working, info["peak_working"])
                stats.peak_long_term = max(stats.peak_long_term, info["peak_long_term"])
                stats.memory_frames += info["memory_frames"]
        self.last_stats = stats
        missing = [i for i, m in enumerate(out) if m is None]
        if missing:
            raise RuntimeError(f"propagation left frames {missing[:10]} without a mask")
        return out  # type: ignore[return-value]

    def _reference_masks(self, frames: FrameSource, references: Mapping[int, np.ndarray]
                         ) -> dict[int, np.ndarray]:
        """The references as boolean masks in ascending frame order, checked against the video."""
        n = len(frames)
        if not references:
            raise InputError(None, "propagation needs at least one reference frame")
        refs: dict[int, np.ndarray] = {}
        for t in sorted(references):
            if not 0 <= t < n:
                raise InputError(None, f"reference frame {t} is outside the video's {n} frames")
            mask = np.asarray(references[t])
            if mask.ndim != 2:
                raise InputError(None, f"reference mask of frame {t} must be 2-D, got shape {mask.shape}")
            refs[t] = mask != 0  # foreground = any non-zero value (0/255 and Ref-DAVIS's 0/100 alike)
        if not any(m.any() for m in refs.values()):
            raise EmptyReferencesError(list(refs))
        return refs

    def _frame_size(self, frames: FrameSource, t: int, size: tuple[int, int]) -> np.ndarray:
        frame = frames[t]
        shape = tuple(np.asarray(frame).shape[:2])
        if shape != size:
            raise InputError(None, f"frame {t} is {shape[0]}x{shape[1]} but frame 0 is {size[0]}x{size[1]}: "
                                   "multi-reference propagation needs one frame size per video")
        return frame

    @torch.inference_mode()
    def propagate_refs(self, frames: FrameSource, references: Mapping[int, np.ndarray]) -> list[np.ndarray]:
        """Boolean masks for every frame from reference masks on any frames: XMem2's procedure
        (docs/models.md#xmem2), one forward pass over ``0..T-1``.

        References are preloaded into permanent memory in ascending frame order (XMem2 uses Python
        set order; recorded deviation), in float32 outside autocast. An empty reference before the
        first non-empty one is skipped, a later one is stored as a background-only reference (as
        XMem2's mask mapper does in that order). Every reference frame outputs its own mask after
        the working-resolution round trip. All references empty: :class:`EmptyReferencesError`.
        Every frame must have frame 0's size (the sensory memory has one shape).
        """
        refs = self._reference_masks(frames, references)
        n = len(frames)
        size = tuple(np.asarray(frames[0]).shape[:2])
        for t, mask in refs.items():
            if mask.shape != size:
                raise InputError(None, f"reference mask of frame {t} is {mask.shape[0]}x{mask.shape[1]} but the "
                                       f"frames are {size[0]}x{size[1]}")
        core = XMemCore(self.net, self.config, references=True)
        preloaded = []
        for t, mask in refs.items():
            if not preloaded and not mask.any():
                continue
            image = self._image(self._frame_size(frames, t, size), t)
            core.preload(image, self._mask(mask, tuple(image.shape[-2:])))
            preloaded.append(t)
        out: list[np.ndarray] = []
        peak_work = peak_long = 0
        with self._autocast():
            for t in range(n):
                image = self._image(self._frame_size(frames, t, size), t)
                mask = self._mask(refs[t], tuple(image.shape[-2:])) if t in refs else None
                prob = core.step(image, mask, end=(t == n - 1))
                peak_work = max(peak_work, core.memory.work.size)
                peak_long = max(peak_long, core.memory.long.size)
                if tuple(prob.shape[-2:]) != size:
                    prob = F.interpolate(prob[None].float(), size=size, mode="bilinear", align_corners=False)[0]
                out.append((prob.argmax(0) == 1).cpu().numpy())
        info = {"direction": "forward", "frames": n, "references": list(refs), "preloaded": preloaded,
                "frame_elements": core.memory.frame_elements or 0, "peak_working": peak_work,
                "peak_long_term": peak_long, "peak_permanent": core.memory.permanent.size,
                "memory_frames": core.memory_frames}
        self.last_stats = MemoryStats(info["frame_elements"], peak_work, peak_long, core.memory_frames, [info])
        return out
