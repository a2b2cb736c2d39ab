"""VideoLISA as a :class:`~reasonvos.inference.segmenter.VideoSegmenter` for the shared runner.

Per video (cached, keyed by video id, dropped when the video changes): decode the frames once,
CLIP-encode the sparse frames, SAM-encode every frame in batches. Per expression: one LLM pass
gives one prompt embedding, and SAM's decoder turns it into a mask for every frame
("One-Token-Seg-All"; logits > 0 after float32 upsampling to the frame's own size).

The runner keeps all samples of a video together on one rank, so the cache holds one video.

With a post-optimiser (``--post-optimize xmem2``, :mod:`reasonvos.videolisa.postopt`) the decoded
frames stay in the cache too, and each expression's masks are refined by XMem2 propagation over
them: no second decode of the video.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from reasonvos.errors import InputError
from reasonvos.frames import read_video_frames
from reasonvos.inference.segmenter import VideoSegmenter

from .model import VideoLisa
from .postopt import XMem2PostOptimizer
from .prompts import phi3_prompt, query_for
from .sampling import NUM_FRAMES_DENSE, NUM_FRAMES_SPARSE, dense_positions, sparse_indices
from .tokenizer import LegacySentencePieceTokenizer, tokenize_with_image

if TYPE_CHECKING:
    from reasonvos.benchmarks.model import Benchmark, Sample, Video


@dataclass
class VideoState:
    """What VideoLISA computes once per video, whatever the expression."""

    frame_tokens: torch.Tensor  # (T_sparse, L, hidden): projected CLIP tokens of the sparse frames
    sam_embeddings: torch.Tensor  # (N, C, s, s): SAM image embeddings of every frame
    original_sizes: list[tuple[int, int]]
    input_sizes: list[tuple[int, int]]
    frames: list[np.ndarray] | None = None  # the decoded frames, kept only for a post-optimiser


class VideoLisaSegmenter(VideoSegmenter):
    name = "videolisa"
    role = "model"

    def __init__(self, model: VideoLisa, tokenizer: LegacySentencePieceTokenizer,
                 num_frames_sparse: int = NUM_FRAMES_SPARSE, num_frames_dense: int = NUM_FRAMES_DENSE,
                 cache: bool = True, sam_batch_size: int = 4, info: dict[str, Any] | None = None,
                 post_optimizer: XMem2PostOptimizer | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.num_frames_sparse = num_frames_sparse
        self.num_frames_dense = num_frames_dense
        self.dense_positions = dense_positions(num_frames_sparse, num_frames_dense)
        self.cache = cache
        self.sam_batch_size = sam_batch_size
        self.info = dict(info or {})
        self.post_optimizer = post_optimizer
        if post_optimizer is not None:
            self.name = f"videolisa-{post_optimizer.name}"
        #: writes a sample's unrefined masks (``--keep-raw``); the runner sets it
        self.raw_writer: Callable[[Benchmark, Sample, list[np.ndarray]], None] | None = None
        self._notes: dict[str, Any] = {}
        #: seconds spent per stage (decode, clip, sam_encode, llm, decode_masks, post_optimize); perf scripts read it
        self.timings: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._cached_key: str | None = None
        self._cached: VideoState | None = None

    # -- bookkeeping ------------------------------------------------------------------------------

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        cuda = self.model.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(self.model.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            if cuda:
                torch.cuda.synchronize(self.model.device)
            self.timings[stage] += time.perf_counter() - start
            self.calls[stage] += 1

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "num_frames_sparse": self.num_frames_sparse,
                "num_frames_dense": self.num_frames_dense, "dense_positions": self.dense_positions,
                "dtype": str(self.model.dtype).removeprefix("torch."), **self.info,
                **(self.post_optimizer.describe() if self.post_optimizer is not None else {})}

    def take_notes(self) -> dict[str, Any]:
        """What the last segmented expression needs recorded (e.g. masks left unrefined), then forget it."""
        notes, self._notes = self._notes, {}
        return notes

    def clear_cache(self) -> None:
        self._cached_key, self._cached = None, None

    # -- per video ----------------------------------------------------------------------------------

    def video_state(self, key: str, load_frames: Callable[[], Sequence[np.ndarray]]) -> VideoState:
        """The per-video work, from the cache when ``key`` is the cached video."""
        if self.cache and self._cached_key == key and self._cached is not None:
            return self._cached
        self.clear_cache()  # free the previous video's embeddings before computing new ones
        with self._timed("decode"):
            frames = list(load_frames())
        if not frames:
            raise ValueError(f"video {key!r} has no frames")
        sam = self.model.sam
        with self._timed("clip"):
            picked = [frames[i] for i in sparse_indices(len(frames), self.num_frames_sparse)]
            frame_tokens = self.model.frame_tokens(self.model.clip_pixels(picked))
        embeddings, input_sizes = [], []
        with self._timed("sam_encode"):
            for start in range(0, len(frames), self.sam_batch_size):
                batch = [sam.preprocess(f) for f in frames[start : start + self.sam_batch_size]]
                input_sizes += [size for _, size in batch]
                embeddings.append(sam.encode_images(torch.stack([x for x, _ in batch]), self.sam_batch_size))
        state = VideoState(frame_tokens, torch.cat(embeddings), [f.shape[:2] for f in frames], input_sizes,
                           frames if self.post_optimizer is not None else None)
        if self.cache:
            self._cached_key, self._cached = key, state
        return state

    # -- per expression -----------------------------------------------------------------------------

    def segment_frames(self, key: str, load_frames: Callable[[], Sequence[np.ndarray]], query: str,
                       on_raw: Callable[[list[np.ndarray]], None] | None = None) -> Iterator[np.ndarray]:
        """Masks of every frame for one user query (already in its benchmark template).

        With a post-optimiser the masks are refined (``on_raw`` receives the unrefined ones first).
        """
        state = self.video_state(key, load_frames)
        with self._timed("llm"):
            ids = tokenize_with_image(phi3_prompt(query), self.tokenizer)
            visual = self.model.sparse_dense_tokens(state.frame_tokens, self.dense_positions)
            prompt = self.model.prompt_embedding(ids, visual)
        if self.post_optimizer is None:
            yield from self._decode(state, prompt)
            return
        raw = list(self._decode(state, prompt))
        if on_raw is not None:
            on_raw(raw)
        sizes = state.original_sizes
        odd = next((i for i, size in enumerate(sizes) if size != sizes[0]), None)
        if odd is not None:
            raise InputError(None, f"video {key!r}: frame {odd} is {sizes[odd][0]}x{sizes[odd][1]} but frame 0 is "
                             f"{sizes[0][0]}x{sizes[0][1]}; post-optimisation needs one frame size per video")
        with self._timed("post_optimize"):
            refined = self.post_optimizer.refine(state.frames, raw)
        self._notes = {"post_optimize": refined.flag or "refined", "references": refined.references}
        yield from refined.masks

    def _decode(self, state: VideoState, prompt: torch.Tensor) -> Iterator[np.ndarray]:
        """SAM's decoder: the prompt embedding to a mask for every frame."""
        for i in range(state.sam_embeddings.shape[0]):
            with self._timed("decode_masks"):
                logits = self.model.sam.decode(state.sam_embeddings[i : i + 1], prompt,
                                               state.original_sizes[i], state.input_sizes[i])
                mask = (logits[0] > 0).cpu().numpy()
            yield mask

    def segment(self, video: Video, text: str) -> Iterator[np.ndarray]:
        """The raw text as the query (as the chat demo does)."""
        return self.segment_frames(video.id, lambda: read_video_frames(video), text)

    def sample_query(self, benchmark: Benchmark, sample: Sample) -> str:
        """The query in the template of the benchmark's official script (docs/models.md#videolisa-prompts)."""
        spec = benchmark.spec
        kind = ("long" if spec.is_sentence(sample) else "short") if spec.instruction_style == "reasoning" else sample.kind
        return query_for(spec.instruction_style, sample.text, kind)

    def prompt_ids(self, benchmark: Benchmark, sample: Sample) -> list[int]:
        """The token ids the LLM reads for ``sample`` (``IMAGE_TOKEN_INDEX`` where the frames go)."""
        return tokenize_with_image(phi3_prompt(self.sample_query(benchmark, sample)), self.tokenizer)

    def segment_sample(self, benchmark: Benchmark, sample: Sample) -> Iterator[np.ndarray]:
        """Every frame's mask for the sample's query in its benchmark's template."""
        video = benchmark.videos[sample.video_id]
        query = self.sample_query(benchmark, sample)
        writer = self.raw_writer
        on_raw = None if writer is None else (lambda raw: writer(benchmark, sample, raw))
        return self.segment_frames(video.id, lambda: read_video_frames(video), query, on_raw)


# -- construction from declared options (the model registry calls this) -------------------------


def default_device() -> str:
    """cuda:LOCAL_RANK when a GPU is present (one process per GPU under torchrun), else cpu."""
    import os

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cpu"


def build_videolisa(options) -> VideoLisaSegmenter:
    """The segmenter :class:`~reasonvos.videolisa.options.VideoLisaOptions` describe (loads weights)."""
    from .checkpoint import DTYPES, load_videolisa
    from .tiny import tiny_videolisa

    device = options.device or default_device()
    post = _post_optimizer(options, device)  # its weights are checked before VideoLISA's load
    if options.tiny_random is not None:
        model, tok = tiny_videolisa(options.tiny_random)
        model = model.cast(DTYPES[options.dtype], device)
        info = {"checkpoint": f"tiny-random:{options.tiny_random}"}
    else:
        model, tok = load_videolisa(options.checkpoint, options.clip, dtype=options.dtype, device=device,
                                    allow_download=options.download)
        info = {"checkpoint": str(options.checkpoint), "clip": str(options.clip)}
    return VideoLisaSegmenter(model, tok, num_frames_sparse=options.num_frames_sparse,
                              num_frames_dense=options.num_frames_dense, cache=not options.no_cache,
                              sam_batch_size=options.sam_batch_size, info=info, post_optimizer=post)


def _post_optimizer(options, device: str) -> XMem2PostOptimizer | None:
    """XMem2 with its settings at ``--propagation-size`` (a tiny random XMem for a tiny model)."""
    if options.post_optimize == "none":
        return None
    from reasonvos.baselines.xmem import XMemPropagator, xmem2_config

    if options.tiny_random is not None and options.xmem_weights is None:
        config = xmem2_config(size=options.propagation_size, exact_softmax=options.xmem_exact_softmax,
                              key_dim=16, value_dim=32, hidden_dim=8)
        propagator = XMemPropagator(None, config, device=device, seed=options.tiny_random)
    else:
        config = xmem2_config(size=options.propagation_size, exact_softmax=options.xmem_exact_softmax)
        propagator = XMemPropagator(options.xmem_weights, config, device=device)
    sparse = options.num_frames_sparse
    return XMem2PostOptimizer(propagator, sparse, dense_positions(sparse, options.num_frames_dense))
