"""Cutie (Cheng et al., CVPR 2024) as an optional propagator, through the PyPI package ``rf-cutie``.

Built without hydra (docs/models.md#cutie): the packaged ``eval_config.yaml`` minus its hydra keys,
with ``model/base.yaml`` merged in. Constructing ``CUTIE`` would download ImageNet ResNet weights,
which the checkpoint overwrites anyway, so those two functions are patched out during
construction. Weights load with ``torch.load(weights_only=True)`` and must match the network's keys
exactly (the package itself only logs mismatches). Not what the VideoLISA paper used: rows made with
it are named "lisa-cutie".
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from reasonvos.errors import InputError


@dataclass
class CutieConfig:
    """The suggested settings (docs/models.md#cutie): memory every 5 frames, no long-term memory, 480 px."""

    mem_every: int = 5
    use_long_term: bool = False
    max_internal_size: int = 480  # shorter side inside Cutie; -1 keeps the original size
    top_k: int = 30  # readout keeps this many memory elements (must not exceed the memory size)
    model: str = "base"  # packaged model config: base or small
    amp: bool = True  # autocast on CUDA

    def as_dict(self) -> dict:
        return asdict(self)


def cutie_config(config: CutieConfig):
    """The omegaconf config CUTIE and its InferenceCore expect."""
    from omegaconf import OmegaConf, open_dict

    root = resources.files("cutie") / "config"
    cfg = OmegaConf.load(str(root / "eval_config.yaml"))
    for key in ("defaults", "hydra"):
        cfg.pop(key, None)
    with open_dict(cfg):
        cfg.model = _model_config(root / "model", config.model)
        cfg.mem_every = config.mem_every
        cfg.use_long_term = config.use_long_term
        cfg.max_internal_size = config.max_internal_size
        cfg.top_k = config.top_k
        cfg.amp = False
        cfg.flip_aug = False
    return cfg


def _model_config(folder, name: str):
    """A packaged model config with its hydra ``defaults`` (e.g. small -> base) merged underneath."""
    from omegaconf import OmegaConf

    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise InputError(Path(str(path)), f"rf-cutie has no model config {name!r}")
    cfg = OmegaConf.load(str(path))
    bases = [d for d in cfg.pop("defaults", []) if isinstance(d, str) and d != "_self_"]
    return OmegaConf.merge(*[_model_config(folder, b) for b in bases], cfg)


def build_cutie_network(cfg) -> torch.nn.Module:
    """CUTIE with random weights, without the ImageNet download at construction (docs/models.md#cutie)."""
    from cutie.model.cutie import CUTIE

    with mock.patch("cutie.model.utils.resnet.model_zoo.load_url", lambda *a, **k: {}), \
            mock.patch("cutie.model.utils.resnet.load_weights_add_extra_dim", lambda *a, **k: None):
        return CUTIE(cfg)


def load_cutie_weights(net: torch.nn.Module, path: str | Path) -> None:
    """Load ``cutie-base-mega.pth`` strictly (weights_only); refuse missing/unexpected keys."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "Cutie weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a corrupt file
        raise InputError(path, f"cannot read Cutie weights ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict):
        raise InputError(path, "not a plain state dict (expected cutie-base-mega.pth)")
    expected = set(net.state_dict())
    given = set(state)
    # the package widens single-object conv1 weights itself (4 -> 5 input channels)
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if missing or unexpected:
        parts = [f"{label} keys: {', '.join(keys[:8])}" + (f" ... ({len(keys)} in all)" if len(keys) > 8 else "")
                 for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
        raise InputError(path, "refusing a partial Cutie load; " + "; ".join(parts))
    try:
        net.load_weights(dict(state), init_as_zero_if_needed=True)
    except RuntimeError as e:  # shape mismatch
        raise InputError(path, f"Cutie weights do not fit the network ({e})") from e


class CutiePropagator:
    """Same interface as :class:`~reasonvos.baselines.xmem.XMemPropagator`; forward then backward."""

    name = "cutie"

    def __init__(self, weights_path: str | Path, config: CutieConfig | None = None,
                 device: str | torch.device | None = None) -> None:
        self.config = config or CutieConfig()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.weights_path = Path(weights_path)
        self.cfg = cutie_config(self.config)
        net = build_cutie_network(self.cfg)
        load_cutie_weights(net, self.weights_path)
        self.net = net.to(self.device).eval()

    def describe(self) -> dict:
        return {"propagator": self.name, "weights": str(self.weights_path), "config": self.config.as_dict()}

    def _image(self, frame: np.ndarray) -> torch.Tensor:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(None, f"expected an RGB uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
        return torch.from_numpy(np.ascontiguousarray(frame)).to(self.device).permute(2, 0, 1).float() / 255

    def _run(self, frames, order: list[int], key_mask: np.ndarray, out: list) -> None:
        from cutie.inference.inference_core import InferenceCore

        core = InferenceCore(self.net, cfg=self.cfg)
        mask = torch.from_numpy(key_mask.astype(np.int64)).to(self.device)
        for i, t in enumerate(order):
            image = self._image(frames[t])
            if i == 0:
                core.step(image, mask, objects=[1])
                continue
            prob = core.step(image, end=(i == len(order) - 1))
            out[t] = (core.output_prob_to_mask(prob) == 1).cpu().numpy()

    @torch.inference_mode()
    def propagate(self, frames, key_frame: int, key_mask: np.ndarray) -> list[np.ndarray]:
        n = len(frames)
        if not 0 <= key_frame < n:
            raise InputError(None, f"key frame {key_frame} is outside the video's {n} frames")
        key_mask = np.asarray(key_mask).astype(bool)
        out: list[np.ndarray | None] = [None] * n
        out[key_frame] = key_mask.copy()
        amp = self.config.amp and self.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.float16) if amp else nullcontext(), \
                warnings.catch_warnings():
            # rf-cutie uses the deprecated torch.cuda.amp.autocast spelling on every frame
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.cuda.amp.autocast")
            for order in (list(range(key_frame, n)), list(range(key_frame, -1, -1))):
                if len(order) > 1:
                    self._run(frames, order, key_mask, out)
        return out  # type: ignore[return-value]
