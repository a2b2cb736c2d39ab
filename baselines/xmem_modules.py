"""The XMem network (Cheng & Schwing, ECCV 2022), written here so the official ``XMem.pth`` loads.

XMem is not on PyPI and its repository uses absolute imports, so the toolkit carries its own
implementation of the network. Module attribute names are chosen so that ``state_dict()`` keys
equal the official checkpoint's key names exactly (docs/models.md#xmem-checkpoint-keys): that is the whole
contract with the published weights, and :func:`load_xmem_weights` refuses anything else.

Tensor layout conventions: image features are (B, C, H, W); features that also depend on a mask
carry an object axis, (B, N, C, H, W) ("grouped"). Strides: f4/f8/f16 are 1/4, 1/8, 1/16.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18, resnet50

from reasonvos.errors import InputError

#: keys that decide the network's dimensions (docs/models.md#xmem-checkpoint-keys)
KEY_DIM_KEY = "key_proj.key_proj.weight"
VALUE_DIM_KEY = "value_encoder.fuser.block2.conv2.weight"
HIDDEN_DIM_KEY = "decoder.hidden_update.transform.weight"
VALUE_CONV1_KEY = "value_encoder.conv1.weight"


# -- grouped helpers ------------------------------------------------------------------------------


def _flat(g: torch.Tensor) -> torch.Tensor:
    return g.flatten(0, 1)


def _group(x: torch.Tensor, batch: int, objects: int) -> torch.Tensor:
    return x.view(batch, objects, *x.shape[1:])


def _resize_groups(g: torch.Tensor, ratio: float, mode: str) -> torch.Tensor:
    align = False if mode == "bilinear" else None
    out = F.interpolate(_flat(g), scale_factor=ratio, mode=mode, align_corners=align)
    return _group(out, g.shape[0], g.shape[1])


def _with_image(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Concatenate the per-image features ``x`` in front of every object's features ``g``."""
    return torch.cat([x.unsqueeze(1).expand(-1, g.shape[1], -1, -1, -1), g], 2)


class GroupConv2d(nn.Conv2d):
    """A Conv2d applied to every object of a grouped (B, N, C, H, W) tensor."""

    def forward(self, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _group(super().forward(_flat(g)), g.shape[0], g.shape[1])


class GroupResBlock(nn.Module):
    """Pre-activation residual block on grouped features (projection when widths differ)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.downsample = None if in_dim == out_dim else GroupConv2d(in_dim, out_dim, 3, padding=1)
        self.conv1 = GroupConv2d(in_dim, out_dim, 3, padding=1)
        self.conv2 = GroupConv2d(out_dim, out_dim, 3, padding=1)

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(F.relu(g))))
        skip = g if self.downsample is None else self.downsample(g)
        return out + skip


# -- CBAM attention (names follow the checkpoint: ChannelGate.mlp.{1,3}, SpatialGate.spatial.conv) ---


class _ChannelGate(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Flatten(), nn.Linear(channels, channels // reduction), nn.ReLU(),
            nn.Linear(channels // reduction, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # whole-map avg/max pooling as the original computes it (avg_pool2d with a full-size kernel
        # sums in a different order than adaptive pooling: ~1e-7 apart, amplified downstream)
        size = tuple(x.shape[-2:])
        att = self.mlp(F.avg_pool2d(x, size, stride=size)) + self.mlp(F.max_pool2d(x, size, stride=size))
        return x * torch.sigmoid(att)[:, :, None, None]


class _SpatialConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class _SpatialGate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.spatial = _SpatialConv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAM(nn.Module):
    """Channel then spatial attention (Woo et al. 2018), as used inside XMem's fusion blocks."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ChannelGate = _ChannelGate(channels)
        self.SpatialGate = _SpatialGate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class FeatureFusionBlock(nn.Module):
    """Fuses image features ``x`` (B, Cx, H, W) into every object's features ``g``."""

    def __init__(self, x_in_dim: int, g_in_dim: int, g_mid_dim: int, g_out_dim: int) -> None:
        super().__init__()
        self.block1 = GroupResBlock(x_in_dim + g_in_dim, g_mid_dim)
        self.attention = CBAM(g_mid_dim)
        self.block2 = GroupResBlock(g_mid_dim, g_out_dim)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        g = self.block1(_with_image(x, g))
        r = _group(self.attention(_flat(g)), g.shape[0], g.shape[1])
        return self.block2(g + r)


# -- sensory memory (GRU-like hidden state) -------------------------------------------------------


def _gated_update(values: torch.Tensor, h: torch.Tensor, hidden_dim: int) -> torch.Tensor:
    """XMem's GRU variant: the candidate is gated by the update gate only, the old state by both."""
    forget = torch.sigmoid(values[:, :, :hidden_dim])
    update = torch.sigmoid(values[:, :, hidden_dim : 2 * hidden_dim])
    candidate = torch.tanh(values[:, :, 2 * hidden_dim :])
    return forget * h * (1 - update) + update * candidate


class HiddenReinforcer(nn.Module):
    """Deep update of the sensory memory from the value features (on memory frames)."""

    def __init__(self, g_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.transform = GroupConv2d(g_dim + hidden_dim, hidden_dim * 3, 3, padding=1)
        nn.init.xavier_normal_(self.transform.weight)

    def forward(self, g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return _gated_update(self.transform(torch.cat([g, h], 2)), h, self.hidden_dim)


class HiddenUpdater(nn.Module):
    """Per-frame update of the sensory memory from the decoder's multi-scale features."""

    def __init__(self, g_dims: tuple[int, int, int], mid_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.g16_conv = GroupConv2d(g_dims[0], mid_dim, 1)
        self.g8_conv = GroupConv2d(g_dims[1], mid_dim, 1)
        self.g4_conv = GroupConv2d(g_dims[2], mid_dim, 1)
        self.transform = GroupConv2d(mid_dim + hidden_dim, hidden_dim * 3, 3, padding=1)
        nn.init.xavier_normal_(self.transform.weight)

    def forward(self, g: list[torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        x = (
            self.g16_conv(g[0])
            + self.g8_conv(_resize_groups(g[1], 1 / 2, "area"))
            + self.g4_conv(_resize_groups(g[2], 1 / 4, "area"))
        )
        return _gated_update(self.transform(torch.cat([x, h], 2)), h, self.hidden_dim)


# -- encoders -------------------------------------------------------------------------------------


class KeyEncoder(nn.Module):
    """ResNet-50 trunk up to layer3 (stride 16, 1024 channels); ``res2`` is ResNet's layer1."""

    def __init__(self) -> None:
        super().__init__()
        net = resnet50(weights=None)  # never ImageNet weights: XMem.pth overwrites them (docs/models.md#xmem-offline-construction)
        self.conv1, self.bn1, self.maxpool = net.conv1, net.bn1, net.maxpool
        self.res2, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(image))))
        f4 = self.res2(x)
        f8 = self.layer2(f4)
        return self.layer3(f8), f8, f4


def _others(masks: torch.Tensor) -> torch.Tensor:
    """For each object, the sum of the OTHER objects' masks (B, N, H, W).

    Summed over the others directly, as the original does: ``total - own`` differs by rounding.
    """
    n = masks.shape[1]
    return torch.cat(
        [masks[:, [j for j in range(n) if j != i]].sum(1, keepdim=True) for i in range(n)], 1
    )


class ValueEncoder(nn.Module):
    """ResNet-18 trunk on (image, object mask, other objects' masks), fused with key features."""

    def __init__(self, value_dim: int, hidden_dim: int) -> None:
        super().__init__()
        net = resnet18(weights=None)
        # 3 image channels + mask + "others" (the official weights are the multi-object variant)
        self.conv1 = nn.Conv2d(5, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1, self.maxpool = net.bn1, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.fuser = FeatureFusionBlock(1024, 256, value_dim, value_dim)
        self.hidden_reinforce = HiddenReinforcer(value_dim, hidden_dim) if hidden_dim > 0 else None

    def forward(
        self, image: torch.Tensor, f16: torch.Tensor, h: torch.Tensor | None, masks: torch.Tensor,
        deep_update: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, n = masks.shape[:2]
        others = _others(masks) if n > 1 else torch.zeros_like(masks)
        g = _with_image(image, torch.stack([masks, others], 2))
        g = F.relu(self.maxpool(self.bn1(self.conv1(_flat(g)))))
        g = self.layer3(self.layer2(self.layer1(g)))
        g = self.fuser(f16, _group(g, b, n))
        if deep_update and self.hidden_reinforce is not None and h is not None:
            h = self.hidden_reinforce(g, h)
        return g, h


class KeyProjection(nn.Module):
    """Key, shrinkage (>= 1, per position) and selection (in (0, 1), per channel) heads."""

    def __init__(self, in_dim: int, key_dim: int) -> None:
        super().__init__()
        self.key_proj = nn.Conv2d(in_dim, key_dim, 3, padding=1)
        self.d_proj = nn.Conv2d(in_dim, 1, 3, padding=1)
        self.e_proj = nn.Conv2d(in_dim, key_dim, 3, padding=1)
        nn.init.orthogonal_(self.key_proj.weight.data)
        nn.init.zeros_(self.key_proj.bias.data)

    def forward(
        self, x: torch.Tensor, need_shrinkage: bool, need_selection: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        shrinkage = self.d_proj(x) ** 2 + 1 if need_shrinkage else None
        selection = torch.sigmoid(self.e_proj(x)) if need_selection else None
        return self.key_proj(x), shrinkage, selection


# -- decoder --------------------------------------------------------------------------------------


class UpsampleBlock(nn.Module):
    """x2 upsampling of grouped features plus a skip connection from the key encoder."""

    def __init__(self, skip_dim: int, g_up_dim: int, g_out_dim: int) -> None:
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_dim, g_up_dim, 3, padding=1)
        self.out_conv = GroupResBlock(g_up_dim, g_out_dim)

    def forward(self, skip: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        g = _resize_groups(g, 2, "bilinear")
        return self.out_conv(self.skip_conv(skip).unsqueeze(1) + g)


class Decoder(nn.Module):
    def __init__(self, value_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fuser = FeatureFusionBlock(1024, value_dim + hidden_dim, 512, 512)
        self.hidden_update = (
            HiddenUpdater((512, 256, 256 + 1), 256, hidden_dim) if hidden_dim > 0 else None
        )
        self.up_16_8 = UpsampleBlock(512, 512, 256)
        self.up_8_4 = UpsampleBlock(256, 256, 256)
        self.pred = nn.Conv2d(256, 1, 3, padding=1)

    def forward(
        self, f16: torch.Tensor, f8: torch.Tensor, f4: torch.Tensor, hidden: torch.Tensor | None,
        readout: torch.Tensor, update_hidden: bool,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        b, n = readout.shape[:2]
        g = readout if self.hidden_update is None else torch.cat([readout, hidden], 2)
        g16 = self.fuser(f16, g)
        g8 = self.up_16_8(f8, g16)
        g4 = self.up_8_4(f4, g8)
        logits = self.pred(F.relu(_flat(g4)))
        new_hidden = None
        if update_hidden and self.hidden_update is not None:
            g4 = torch.cat([g4, _group(logits, b, n)], 2)
            new_hidden = self.hidden_update([g16, g8, g4], hidden)
        logits = F.interpolate(logits, scale_factor=4, mode="bilinear", align_corners=False)
        return new_hidden, _group(logits, b, n)[:, :, 0]


# -- the network ----------------------------------------------------------------------------------


def aggregate(prob: torch.Tensor, dim: int) -> torch.Tensor:
    """Soft aggregation: add a background channel and renormalise objects in logit space."""
    with_bg = torch.cat([torch.prod(1 - prob, dim=dim, keepdim=True), prob], dim)
    with_bg = with_bg.clamp(1e-7, 1 - 1e-7)
    return F.softmax(torch.log(with_bg / (1 - with_bg)), dim=dim)


class XMemNetwork(nn.Module):
    """The four trained parts; state_dict keys equal the official checkpoint's."""

    def __init__(self, key_dim: int = 64, value_dim: int = 512, hidden_dim: int = 64) -> None:
        super().__init__()
        self.key_dim, self.value_dim, self.hidden_dim = key_dim, value_dim, hidden_dim
        self.key_encoder = KeyEncoder()
        self.value_encoder = ValueEncoder(value_dim, hidden_dim)
        self.key_proj = KeyProjection(1024, key_dim)
        self.decoder = Decoder(value_dim, hidden_dim)

    def encode_key(self, image: torch.Tensor, need_shrinkage: bool, need_selection: bool):
        """(key, shrinkage, selection, (f16, f8, f4)) of a normalised (B, 3, H, W) image."""
        f16, f8, f4 = self.key_encoder(image)
        key, shrinkage, selection = self.key_proj(f16, need_shrinkage, need_selection)
        return key, shrinkage, selection, (f16, f8, f4)

    def encode_value(self, image, f16, hidden, masks, deep_update: bool):
        """Memory value (B, N, Cv, h, w) of an image with its object probabilities (B, N, H, W)."""
        return self.value_encoder(image, f16, hidden, masks, deep_update)

    def segment(self, features, readout, hidden, update_hidden: bool):
        """(new hidden or None, probabilities with background (B, N+1, H, W))."""
        new_hidden, logits = self.decoder(*features, hidden, readout, update_hidden)
        return new_hidden, aggregate(torch.sigmoid(logits), dim=1)


# -- weights --------------------------------------------------------------------------------------


def network_dims(state: dict[str, torch.Tensor]) -> tuple[int, int, int]:
    """(key_dim, value_dim, hidden_dim) read from a checkpoint, as the original does."""
    for key in (KEY_DIM_KEY, VALUE_DIM_KEY):
        if key not in state:
            raise KeyError(key)
    hidden = state[HIDDEN_DIM_KEY].shape[0] // 3 if HIDDEN_DIM_KEY in state else 0
    return state[KEY_DIM_KEY].shape[0], state[VALUE_DIM_KEY].shape[0], hidden


def load_xmem_weights(path: str | Path) -> XMemNetwork:
    """Build the network from an official checkpoint (``XMem.pth``, ``XMem-s012.pth``).

    Loads with ``weights_only=True``; a single-object ``value_encoder.conv1`` (4 input channels)
    is zero-padded to 5 like the original. Any missing, unexpected or mis-shaped key is refused
    with an :class:`InputError` listing them: a partial load would silently give garbage masks.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "XMem weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a corrupt file
        raise InputError(path, f"cannot read XMem weights ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "not a plain state dict of tensors (expected the official XMem.pth)")
    try:
        key_dim, value_dim, hidden_dim = network_dims(state)
    except KeyError as e:
        raise InputError(path, f"missing key {e.args[0]!r}: not an XMem checkpoint") from e
    conv1 = state.get(VALUE_CONV1_KEY)
    if conv1 is not None and conv1.ndim == 4 and conv1.shape[1] == 4:
        state = dict(state)
        state[VALUE_CONV1_KEY] = torch.cat([conv1, conv1.new_zeros(conv1.shape[0], 1, 7, 7)], 1)
    net = XMemNetwork(key_dim, value_dim, hidden_dim)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items() if k in state and state[k].shape != v.shape
    )
    if missing or unexpected or misshaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if keys:
                shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
                parts.append(f"{label} keys: {shown}")
        raise InputError(path, "refusing a partial XMem load; " + "; ".join(parts))
    net.load_state_dict(state, strict=True)
    return net


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


__all__ = [
    "XMemNetwork", "aggregate", "load_xmem_weights", "network_dims", "parameter_count",
]
