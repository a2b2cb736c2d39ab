"""The one place that decides how a PNG or an RLE becomes a mask.

- Index (palette, ``P``) PNGs are read as palette *indices* with Pillow, never as colours:
  cv2 would return colours or luma and destroy the object ids.
- Binary PNGs (``L``, ``1``, ``P``, ``I;16``, RGB) are foreground wherever the value is non-zero.
  For 8-bit grayscale (what every model writes) this is exactly what the official binary
  evaluators do (``cv2.IMREAD_GRAYSCALE`` then ``astype(bool)``). They differ on odd encodings,
  by design here: cv2 scales 16-bit values to 8 bit (values below 256 become 0) and turns colours
  into luma (a near-black colour becomes 0); this module counts any non-zero value.
- COCO RLE is decoded with pycocotools; ``None`` entries (MeViS ``null``) are empty masks.
- Predictions and built ground truth are written as single-channel ``uint8`` 0/255 PNGs.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from reasonvos.errors import MaskError, MissingFileError
from reasonvos.fileio import NEW_FILE_MODE


#: DAVIS palette (first entries: black, dark red, dark green, ...), the standard 8-bit VOC layout.
def _voc_palette(n: int = 256) -> list[int]:
    palette: list[int] = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.extend((r, g, b))
    return palette


DAVIS_PALETTE: list[int] = _voc_palette()


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise MissingFileError(path, "mask file not found")
    try:
        img = Image.open(path)
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise MaskError(path, f"PNG does not decode ({e})") from e
    return img


def read_index_png(path: str | Path) -> np.ndarray:
    """Read an index PNG as an integer array of palette indices / label values (H, W).

    ``P`` and ``L`` images give uint8 indices; 16-bit (``I;16``) and 32-bit (``I``) images keep
    their full values (VIPSeg panoptic ids need more than 8 bits). Colour images are refused,
    because their ids cannot be recovered.
    """
    path = Path(path)
    img = _open(path)
    if img.mode in ("P", "L", "1"):
        return np.asarray(img, dtype=np.uint8)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(img).astype(np.int32 if img.mode == "I" else np.uint16)
    raise MaskError(path, f"expected an index PNG (palette or grayscale), found mode {img.mode}")


def read_binary_png(path: str | Path) -> np.ndarray:
    """Read a binary mask PNG: any non-zero value is foreground.

    Palette PNGs count non-zero *indices*; RGB(A) PNGs count pixels whose colour is not black
    (alpha ignored), matching the luma test of the official cv2-based evaluators for every colour
    that is not nearly black.
    """
    path = Path(path)
    img = _open(path)
    if img.mode in ("RGB", "RGBA", "LA", "RGBX", "CMYK", "YCbCr"):
        arr = np.asarray(img.convert("RGB"))
        return arr.any(axis=2)
    arr = np.asarray(img)
    if arr.ndim != 2:
        raise MaskError(path, f"expected a single-channel mask, found shape {arr.shape}")
    return arr != 0


def png_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file, reading only its header."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "image not found")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise MaskError(path, f"image does not decode ({e})") from e
    return h, w


def png_mode(path: str | Path) -> str:
    with Image.open(path) as img:
        return img.mode


def encode_binary_png(mask: np.ndarray) -> bytes:
    """Encode a boolean mask as a single-channel 0/255 PNG."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {arr.shape}")
    buf = io.BytesIO()
    Image.fromarray((arr != 0).astype(np.uint8) * 255, mode="L").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def encode_index_png(labels: np.ndarray, palette: list[int] | None = None) -> bytes:
    """Encode a uint8 label map as a palette PNG (DAVIS palette by default)."""
    arr = np.asarray(labels)
    if arr.ndim != 2 or arr.min(initial=0) < 0 or arr.max(initial=0) > 255:
        raise ValueError("labels must be a 2-D array of values 0..255")
    img = Image.fromarray(arr.astype(np.uint8), mode="P")
    img.putpalette(palette or DAVIS_PALETTE)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, NEW_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_binary_png(path: str | Path, mask: np.ndarray) -> None:
    """Write a 0/255 single-channel PNG atomically."""
    _write_atomic(Path(path), encode_binary_png(mask))


def write_index_png(path: str | Path, labels: np.ndarray, palette: list[int] | None = None) -> None:
    """Write a palette PNG atomically (object ids as indices)."""
    _write_atomic(Path(path), encode_index_png(labels, palette))


# ----------------------------------------------------------------------------------------- RLE


def decode_rle(rle: Any, where: str | Path | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode one COCO RLE (``{"size": [H, W], "counts": str|bytes|list}``) to a bool mask.

    ``None`` means the object is absent; it needs ``size`` and gives an empty mask. When ``size``
    is given, an RLE whose own size disagrees is an error naming ``where``.
    """
    from pycocotools import mask as mask_utils

    if rle is None:
        if size is None:
            raise MaskError(where, "null RLE entry without a known frame size")
        return np.zeros(size, dtype=bool)
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise MaskError(where, f"not a COCO RLE dict with 'size' and 'counts': {str(rle)[:80]}")
    try:
        h, w = (int(v) for v in rle["size"])
    except (TypeError, ValueError) as e:
        raise MaskError(where, f"RLE size is not [H, W]: {rle['size']!r}") from e
    if size is not None and (h, w) != tuple(size):
        raise MaskError(where, f"RLE size {h}x{w} differs from the frame size {size[0]}x{size[1]}")
    counts = rle["counts"]
    try:
        if isinstance(counts, list):
            obj = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
        else:
            obj = {"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
        m = mask_utils.decode(obj)
    except Exception as e:  # pycocotools raises bare Exceptions / ValueErrors on corrupt counts
        raise MaskError(where, f"RLE does not decode ({e})") from e
    if m.shape != (h, w) or _rle_area(obj) > h * w:
        raise MaskError(where, "RLE counts do not match its size")
    # pycocotools leaves pixels past the last run undefined, so the runs must cover H*W exactly.
    covered = sum(int(c) for c in counts) if isinstance(counts, list) else _compressed_total(obj["counts"], where)
    if covered != h * w:
        raise MaskError(where, f"RLE counts cover {covered} pixels, but its size {h}x{w} has {h * w}")
    return m.astype(bool)


def _compressed_total(counts: bytes, where: str | Path | None) -> int:
    """Sum of the run lengths of a compressed COCO counts string (COCO's documented encoding:
    5-bit groups offset by 48, 0x20 = more groups follow, 0x10 = sign of the last group, runs
    after the second stored as the difference to the run two places before)."""
    runs: list[int] = []
    pos, n = 0, len(counts)
    while pos < n:
        value, shift, more = 0, 0, True
        while more:
            if pos >= n:
                raise MaskError(where, "RLE counts string ends in the middle of a run")
            c = counts[pos] - 48
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise MaskError(where, "RLE counts string holds a negative run length")
        runs.append(value)
    return sum(runs)


def _rle_area(obj: dict) -> int:
    from pycocotools import mask as mask_utils

    return int(mask_utils.area(obj))


def encode_rle(mask: np.ndarray) -> dict:
    """Encode a bool mask as a compressed COCO RLE with a str ``counts`` (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_burst_rle(counts: str, height: int, width: int, where: str | Path | None = None) -> np.ndarray:
    """Decode a BURST RLE, which stores only the counts string; the size comes from the sequence."""
    return decode_rle({"size": [height, width], "counts": counts}, where)


# ------------------------------------------------------------------------ fast raw decoding


def read_png_values(path: str | Path) -> np.ndarray:
    """Decode a mask PNG to its stored values, as fast as the format allows.

    8/16-bit grayscale PNGs are decoded with ``cv2.imread(IMREAD_UNCHANGED)`` (same values as
    Pillow, faster); palette PNGs give palette *indices* through Pillow (cv2 would return
    colours); anything else goes through Pillow unchanged (RGB gives H x W x 3). Scorers use it
    to check values (binary vs index) and to score from one decode.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(26)
    except FileNotFoundError as e:
        raise MissingFileError(path, "mask file not found") from e
    except OSError as e:
        raise MaskError(path, f"cannot read ({e})") from e
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and head[25] == 0 and head[24] in (8, 16):
        import cv2

        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is not None and arr.ndim == 2:
            return arr
    img = _open(path)
    if img.mode in ("P", "L", "1"):
        return np.asarray(img, dtype=np.uint8)
    return np.asarray(img)
