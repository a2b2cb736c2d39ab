"""LISA + XMem: LISA segments one key frame, a propagator tracks that mask through the video.

As the VideoLISA paper describes the baseline (docs/models.md#lisa-with-xmem): LISA sees a single frame
(the first one by default) and XMem propagates its mask. The key frame is an option: ``first``
(the paper), ``middle``, a frame index, or ``best`` (LISA on a few evenly spaced candidate frames,
keeping the most confident mask). Propagation from a key frame k runs forward over k..T-1 and
backward over k..0. Rows made with another propagator are named after it ("lisa-cutie").

Empty key-frame masks follow a recorded policy: ``empty`` (the video's masks are all empty, which
is what propagating an empty mask means; the tracker is not run) or ``next`` (try the following
frames, then the preceding ones, until LISA finds something).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from reasonvos.errors import InputError
from reasonvos.inference.segmenter import VideoSegmenter

from .lisa import LisaSegmenter, VideoFrames

if TYPE_CHECKING:
    from reasonvos.benchmarks.model import Benchmark, Sample, Video

EMPTY_POLICIES = ("empty", "next")
KEY_FRAME_CHOICES = ("first", "middle", "best")


class Propagator(Protocol):
    """Tracks one object's mask from a key frame through every frame (XMem, Cutie)."""

    name: str

    def propagate(self, frames, key_frame: int, key_mask: np.ndarray) -> list[np.ndarray]: ...

    def describe(self) -> dict: ...


def parse_key_frame(value: str | int) -> str | int:
    """``first``, ``middle``, ``best`` or a non-negative frame index."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    if value not in KEY_FRAME_CHOICES:
        raise ValueError(f"key frame must be one of {', '.join(KEY_FRAME_CHOICES)} or a frame index, "
                         f"got {value!r}")
    return value


def candidate_frames(num_frames: int, count: int) -> list[int]:
    """``count`` evenly spaced frame indices, first frame included (``best`` key frame)."""
    if num_frames <= count:
        return list(range(num_frames))
    return sorted({round(i * (num_frames - 1) / (count - 1)) for i in range(count)}) if count > 1 else [0]


def mask_confidence(logits: torch.Tensor) -> float:
    """Mean foreground probability over the predicted mask (0 for an empty mask)."""
    fg = logits > 0
    if not bool(fg.any()):
        return 0.0
    return float(torch.sigmoid(logits[fg].float()).mean())


class LisaXMemSegmenter(VideoSegmenter):
    name = "lisa-xmem"
    role = "model"

    def __init__(self, lisa: LisaSegmenter, propagator: Propagator, key_frame: str | int = "first",
                 empty_policy: str = "empty", best_candidates: int = 5,
                 info: dict[str, Any] | None = None) -> None:
        if empty_policy not in EMPTY_POLICIES:
            raise ValueError(f"unknown empty-mask policy {empty_policy!r}; choose from {', '.join(EMPTY_POLICIES)}")
        if best_candidates < 1:
            raise ValueError("best_candidates must be >= 1")
        self.lisa = lisa
        self.propagator = propagator
        self.key_frame = parse_key_frame(key_frame)
        self.empty_policy = empty_policy
        self.best_candidates = best_candidates
        self.info = dict(info or {})
        self.name = "lisa-xmem" if propagator.name == "xmem" else f"lisa-{propagator.name}"
        #: key frame used for each video/expression segmented so far ("video/text" -> index or None)
        self.key_frames: dict[str, int | None] = {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "key_frame": self.key_frame,
                "empty_key_mask_policy": self.empty_policy, "best_candidates": self.best_candidates,
                "lisa": self.lisa.describe(), **self.propagator.describe(), **self.info}

    @staticmethod
    def _key(video_id: str | None, index: int) -> tuple[str, int] | None:
        return None if video_id is None else (video_id, index)

    def _key_index(self, num_frames: int, name: str) -> int:
        if self.key_frame == "first":
            return 0
        if self.key_frame == "middle":
            return num_frames // 2
        assert isinstance(self.key_frame, int)
        if self.key_frame >= num_frames:
            raise InputError(None, f"--key-frame {self.key_frame} is beyond video {name!r} "
                                   f"({num_frames} frames)")
        return self.key_frame

    def choose_key(self, frames, query: str, video_id: str | None = None, name: str = ""
                   ) -> tuple[int | None, np.ndarray | None]:
        """(key frame index, LISA's mask there); (None, None) when LISA finds nothing.

        ``video_id`` keys LISA's per-video cache; ``name`` identifies the run in error messages.
        """
        n = len(frames)
        if self.key_frame == "best":
            scored = []
            for i in candidate_frames(n, self.best_candidates):
                logits = self.lisa.frame_logits(frames[i], query, self._key(video_id, i))
                scored.append((mask_confidence(logits), i, (logits > 0).cpu().numpy()))
            score, k, mask = max(scored, key=lambda s: (s[0], -s[1]))
            tried = {i for _, i, _ in scored}
            if score > 0:
                return k, mask
            k = 0
        else:
            k = self._key_index(n, video_id or name)
            mask = self.lisa.frame_mask(frames[k], query, self._key(video_id, k))
            if mask.any():
                return k, mask
            tried = {k}
        if self.empty_policy == "next":
            for i in [*range(k + 1, n), *range(k - 1, -1, -1)]:
                if i in tried:
                    continue
                mask = self.lisa.frame_mask(frames[i], query, self._key(video_id, i))
                if mask.any():
                    return i, mask
        return None, None

    def segment_frames(self, frames: Sequence[np.ndarray] | VideoFrames, query: str,
                       label: str = "", video_id: str | None = None) -> Iterator[np.ndarray]:
        """Masks of every frame; ``label`` names the run in :attr:`key_frames`, ``video_id`` lets
        LISA cache the video's frame encodings across expressions."""
        n = len(frames)
        if n == 0:
            return iter(())
        k, mask = self.choose_key(frames, query, video_id, label)
        self.key_frames[label] = k
        if k is None:
            shape = frames[0].shape[:2]
            return iter([np.zeros(shape, bool) for _ in range(n)])
        return iter(self.propagator.propagate(frames, k, mask))

    def segment(self, video: Video, text: str) -> Iterator[np.ndarray]:
        query = self.lisa.text_query(text)
        return self.segment_frames(VideoFrames(video), query, f"{video.id}/{text}", video.id)

    def segment_sample(self, benchmark: Benchmark, sample: Sample) -> Iterator[np.ndarray]:
        query = self.lisa.sample_query(benchmark, sample)
        return self.segment_frames(VideoFrames(benchmark.videos[sample.video_id]), query, sample.key,
                                   sample.video_id)


# -- construction from declared options (the model registry calls these) -------------------------


def _lisa(options, mode: str) -> LisaSegmenter:
    """LISA as :class:`~reasonvos.baselines.options.LisaLoadOptions` describe (loads weights)."""
    from reasonvos.videolisa.checkpoint import DTYPES
    from reasonvos.videolisa.segmenter import default_device

    from .lisa import load_lisa, tiny_lisa

    device = options.device or default_device()
    if options.tiny_random is not None:
        model, tok, _ = tiny_lisa(options.tiny_random)
        model = model.cast(DTYPES[options.dtype], device)  # keeps RoPE frequencies in float32
        info = {"checkpoint": f"tiny-random:{options.tiny_random}"}
    else:
        model, tok = load_lisa(options.checkpoint, options.clip, dtype=options.dtype, device=device,
                               allow_download=options.download)
        info = {"checkpoint": str(options.checkpoint), "clip": str(options.clip)}
    return LisaSegmenter(model, tok, mode=mode, info=info, prompt_style=options.prompt_style)


def build_lisa(options) -> LisaSegmenter:
    """``lisa`` from its :class:`~reasonvos.baselines.options.LisaOptions`."""
    return _lisa(options, options.mode)


def _propagator(options, device: str) -> Propagator:
    if options.propagator == "cutie":
        from .cutie import CutieConfig, CutiePropagator

        return CutiePropagator(options.cutie_weights, CutieConfig(max_internal_size=options.propagation_size),
                               device=device)
    from .xmem import XMemConfig, XMemPropagator

    if options.tiny_random is not None and options.xmem_weights is None:
        config = XMemConfig(size=options.propagation_size, key_dim=16, value_dim=32, hidden_dim=8)
        return XMemPropagator(None, config, device=device, seed=options.tiny_random)
    return XMemPropagator(options.xmem_weights, XMemConfig(size=options.propagation_size), device=device)


def build_lisa_xmem(options) -> LisaXMemSegmenter:
    """``lisa-xmem`` from its :class:`~reasonvos.baselines.options.LisaXMemOptions`; the propagator
    is built first (its weights are checked before LISA's are loaded)."""
    from reasonvos.videolisa.segmenter import default_device

    propagator = _propagator(options, options.device or default_device())
    lisa = _lisa(options, "per-frame")
    return LisaXMemSegmenter(lisa, propagator, key_frame=options.key_frame, empty_policy=options.empty_key_mask,
                             best_candidates=options.best_candidates)
