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

Every reader checks the file before decoding it: a regular file (a FIFO would block forever),
a PNG by its signature (anything else is refused naming what it really is, so a JPEG renamed
``.png`` is never scored, however binary its values look), a whole and valid IHDR header, and
the declared width and height: equal to the expected size when the caller knows it, and at most
:data:`MAX_PIXELS` otherwise. A tiny file declaring 20000x20000 pixels is thus refused without
allocating the ~0.4-1.6 GB its decode would take. RLE sizes are checked the same way.
"""

from __future__ import annotations

import io
import operator
import os
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from reasonvos.errors import MaskError
from reasonvos.fileio import NEW_FILE_MODE, open_regular

#: the most pixels a mask (or an image whose size sets one) may declare when no size is
#: expected: 8192 x 8192, well above 8K video (7680 x 4320) and every benchmark's frames.
MAX_PIXELS = 8192 * 8192
#: slack on top of the largest size a PNG of the declared dimensions can take (chunks such as
#: colour profiles or text); a file larger than that is not a mask of that size.
_SLACK_BYTES = 16 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEADER_BYTES = 33  # signature (8) + IHDR chunk: length, type, 13 bytes of data, CRC (25)
#: valid bit depths per PNG colour type (grey, RGB, palette, grey+alpha, RGBA)
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: leading bytes of the formats a file named ``.png`` most often really is
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\x8aMNG", "an MNG animation"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x93NUMPY", "a NumPy array file"),
)


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


def sniff_format(head: bytes) -> str | None:
    """What a file is, from its first bytes, in words ("a JPEG image"); None if not recognised."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        return "an AVIF/HEIF image or MP4 video"
    text = head.lstrip()[:9].lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<svg")):
        return "an HTML/XML text"
    if text[:1] in (b"{", b"["):
        return "JSON text"
    return None


@dataclass(frozen=True)
class PngHeader:
    """The IHDR fields a reader needs before it decides to decode."""

    height: int
    width: int
    bit_depth: int
    colour_type: int

    @property
    def max_bytes(self) -> int:
        """Generous upper bound of the file size of a PNG with these dimensions."""
        row = (self.width * _PNG_CHANNELS[self.colour_type] * self.bit_depth + 7) // 8 + 1
        return 2 * self.height * row + _SLACK_BYTES


class MaskSizeError(MaskError):
    """A mask whose header declares another size than the one expected (refused undecoded)."""

    def __init__(self, path: str | Path | None, found: tuple[int, int], expected: tuple[int, int]) -> None:
        self.found, self.expected = found, expected
        #: the same words the scorers use for a wrong-size mask
        self.detail = f"{found[0]}x{found[1]}, expected {expected[0]}x{expected[1]} (HxW)"
        super().__init__(path, f"mask is {self.detail}")


def parse_png_header(head: bytes, path: str | Path | None) -> PngHeader:
    """Check the signature and IHDR of a PNG's first 33 bytes; refuse anything else by name."""
    if not head.startswith(PNG_SIGNATURE):
        if not head:
            raise MaskError(path, "empty file, not a PNG")
        if PNG_SIGNATURE.startswith(head):
            raise MaskError(path, f"PNG does not decode (truncated to {len(head)} bytes)")
        if head.startswith(PNG_SIGNATURE[:4]):
            raise MaskError(path, "PNG does not decode (damaged signature)")
        other = sniff_format(head)
        raise MaskError(path, f"not a PNG: the file is {other}" if other else "PNG does not decode (no PNG "
                        "signature)")
    if len(head) < _HEADER_BYTES:
        raise MaskError(path, f"PNG does not decode (truncated to {len(head)} bytes; its header alone takes "
                        f"{_HEADER_BYTES})")
    length, kind = struct.unpack(">I4s", head[8:16])
    if kind != b"IHDR" or length != 13:
        raise MaskError(path, "PNG does not decode (it does not start with a 13-byte IHDR chunk)")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise MaskError(path, "PNG does not decode (the IHDR checksum does not match)")
    if not width or not height or depth not in _PNG_DEPTHS.get(colour, ()):
        raise MaskError(path, f"PNG does not decode (its IHDR declares {width}x{height} pixels, bit depth "
                        f"{depth}, colour type {colour})")
    return PngHeader(height, width, depth, colour)


def check_pixels(height: int, width: int, path: str | Path | None, what: str = "mask") -> None:
    """Refuse a declared size over :data:`MAX_PIXELS` (before anything that size is allocated)."""
    if height * width > MAX_PIXELS:
        raise MaskError(path, f"{what} declares {height}x{width} pixels, more than the {MAX_PIXELS} this "
                        "toolkit reads (refused before decoding)")


def _read_png(path: Path, size: tuple[int, int] | None) -> tuple[bytes, PngHeader]:
    """The bytes of a PNG whose header has been checked against ``size`` (or the cap); one open."""
    with open_regular(path, "mask file", MaskError) as f:
        head = f.read(_HEADER_BYTES)
        header = parse_png_header(head, path)
        if size is not None and (header.height, header.width) != tuple(size):
            raise MaskSizeError(path, (header.height, header.width), (int(size[0]), int(size[1])))
        check_pixels(header.height, header.width, path, "PNG")
        n_bytes = os.fstat(f.fileno()).st_size
        if n_bytes > header.max_bytes:
            raise MaskError(path, f"PNG file of {n_bytes} bytes is far larger than a {header.height}x"
                            f"{header.width} image can be")
        try:
            return head + f.read(), header
        except OSError as e:
            raise MaskError(path, f"cannot read ({e.strerror or e})") from e


def _pil(data: bytes, path: Path) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data), formats=["PNG"])
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise MaskError(path, f"PNG does not decode ({e})") from e
    return img


def open_png(path: str | Path, size: tuple[int, int] | None = None) -> Image.Image:
    """A PNG as a decoded Pillow image, after every check above (for readers that need its mode)."""
    path = Path(path)
    data, _ = _read_png(path, size)
    return _pil(data, path)


_open = open_png


def read_index_png(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an index PNG as an integer array of palette indices / label values (H, W).

    ``P`` and ``L`` images give uint8 indices; 16-bit (``I;16``) and 32-bit (``I``) images keep
    their full values (VIPSeg panoptic ids need more than 8 bits). Colour images are refused,
    because their ids cannot be recovered. ``size`` (H, W), when known, is checked before decoding.
    """
    path = Path(path)
    img = _open(path, size)
    if img.mode in ("P", "L", "1"):
        return np.asarray(img, dtype=np.uint8)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(img).astype(np.int32 if img.mode == "I" else np.uint16)
    raise MaskError(path, f"expected an index PNG (palette or grayscale), found mode {img.mode}")


def read_binary_png(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a binary mask PNG: any non-zero value is foreground.

    Palette PNGs count non-zero *indices*; RGB(A) PNGs count pixels whose colour is not black
    (alpha ignored), matching the luma test of the official cv2-based evaluators for every colour
    that is not nearly black. ``size`` (H, W), when known, is checked before decoding.
    """
    path = Path(path)
    img = _open(path, size)
    if img.mode in ("RGB", "RGBA", "LA", "RGBX", "CMYK", "YCbCr"):
        arr = np.asarray(img.convert("RGB"))
        return arr.any(axis=2)
    arr = np.asarray(img)
    if arr.ndim != 2:
        raise MaskError(path, f"expected a single-channel mask, found shape {arr.shape}")
    return arr != 0


def png_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image file (a PNG mask or a JPEG frame), reading only its header.

    Sizes over :data:`MAX_PIXELS` are refused: they set the size masks are read at.
    """
    path = Path(path)
    with open_regular(path, "image", MaskError) as f:
        head = f.read(_HEADER_BYTES)
        if head.startswith(PNG_SIGNATURE):
            header = parse_png_header(head, path)
            h, w = header.height, header.width
        else:
            f.seek(0)
            try:
                with warnings.catch_warnings():  # Pillow warns between its two limits: refused below
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    with Image.open(f) as img:
                        w, h = img.size
            except Image.DecompressionBombError as e:
                raise MaskError(path, f"image does not decode ({e})") from e
            except (OSError, SyntaxError, ValueError) as e:
                what = sniff_format(head) if head else "an empty file"
                detail = f"the file is {what}" if what else "unknown image format" \
                    if isinstance(e, UnidentifiedImageError) else str(e)
                raise MaskError(path, f"image does not decode ({detail})") from e
    check_pixels(h, w, path, "image")
    return h, w


def png_mode(path: str | Path) -> str:
    """Pillow's mode of a PNG (header checked, pixels not decoded)."""
    path = Path(path)
    data, _ = _read_png(path, None)
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            return img.mode
    except (OSError, SyntaxError, ValueError) as e:
        raise MaskError(path, f"PNG does not decode ({e})") from e


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


def _count(value: Any) -> int:
    """An integer from JSON (bool, float and str are refused: they are not sizes or runs)."""
    if isinstance(value, bool):
        raise TypeError("bool")
    return operator.index(value)


def rle_size(rle: dict, where: str | Path | None) -> tuple[int, int]:
    """The (H, W) an RLE declares: two positive integers of at most :data:`MAX_PIXELS` pixels.

    Checked before anything of that size is allocated (a null RLE of a video becomes an empty
    mask of this size).
    """
    value = rle.get("size") if isinstance(rle, dict) else None
    try:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise TypeError
        h, w = _count(value[0]), _count(value[1])
    except TypeError:
        raise MaskError(where, f"RLE size is not [H, W] (two integers): {str(value)[:80]}") from None
    if h < 1 or w < 1:
        raise MaskError(where, f"RLE size {h}x{w} is not positive")
    check_pixels(h, w, where, "RLE")
    return h, w


def decode_rle(rle: Any, where: str | Path | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode one COCO RLE (``{"size": [H, W], "counts": str|bytes|list}``) to a bool mask.

    ``None`` means the object is absent; it needs ``size`` and gives an empty mask. When ``size``
    is given, an RLE whose own size disagrees is an error naming ``where``. The size and the run
    lengths are checked before decoding: they must add up to H*W exactly, and H*W is capped.
    """
    from pycocotools import mask as mask_utils

    if rle is None:
        if size is None:
            raise MaskError(where, "null RLE entry without a known frame size")
        check_pixels(size[0], size[1], where, "frame")
        return np.zeros(size, dtype=bool)
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise MaskError(where, f"not a COCO RLE dict with 'size' and 'counts': {str(rle)[:80]}")
    h, w = rle_size(rle, where)
    if size is not None and (h, w) != tuple(size):
        raise MaskError(where, f"RLE size {h}x{w} differs from the frame size {size[0]}x{size[1]}")
    counts = rle["counts"]
    if isinstance(counts, list):
        try:
            runs = [_count(c) for c in counts]
        except TypeError:
            raise MaskError(where, "RLE counts list holds something other than integers") from None
        if any(c < 0 for c in runs):
            raise MaskError(where, "RLE counts list holds a negative run length")
        covered = sum(runs)
    elif isinstance(counts, str | bytes):
        try:
            counts = counts.encode("ascii") if isinstance(counts, str) else counts
        except UnicodeEncodeError:
            raise MaskError(where, "RLE counts string is not ASCII") from None
        covered = _compressed_total(counts, where)
    else:
        raise MaskError(where, f"RLE counts must be a string or a list of run lengths, found {type(counts).__name__}")
    # pycocotools leaves pixels past the last run undefined, so the runs must cover H*W exactly.
    if covered != h * w:
        raise MaskError(where, f"RLE counts cover {covered} pixels, but its size {h}x{w} has {h * w}")
    try:
        if isinstance(counts, list):
            obj = mask_utils.frPyObjects({"size": [h, w], "counts": runs}, h, w)
        else:
            obj = {"size": [h, w], "counts": counts}
        m = mask_utils.decode(obj)
    except Exception as e:  # pycocotools raises bare Exceptions / ValueErrors on corrupt counts
        raise MaskError(where, f"RLE does not decode ({e})") from e
    if m.shape != (h, w) or _rle_area(obj) > h * w:
        raise MaskError(where, "RLE counts do not match its size")
    return m.astype(bool)


#: a run needs at most 6 groups of 5 bits below MAX_PIXELS (2**26) with its sign; more is garbage
_MAX_GROUPS = 7


def _compressed_total(counts: bytes, where: str | Path | None) -> int:
    """Sum of the run lengths of a compressed COCO counts string (COCO's documented encoding:
    5-bit groups offset by 48, 0x20 = more groups follow, 0x10 = sign of the last group, runs
    after the second stored as the difference to the run two places before). A run longer than
    :data:`_MAX_GROUPS` groups is refused: its value would grow without bound (and so would the
    time to add it up)."""
    runs: list[int] = []
    pos, n = 0, len(counts)
    while pos < n:
        value, shift, more = 0, 0, True
        while more:
            if pos >= n:
                raise MaskError(where, "RLE counts string ends in the middle of a run")
            if shift >= 5 * _MAX_GROUPS:
                raise MaskError(where, "RLE counts string holds a run of absurd length")
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


def read_png_values(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode a mask PNG to its stored values, as fast as the format allows.

    8/16-bit grayscale PNGs are decoded with ``cv2.imdecode(IMREAD_UNCHANGED)`` (same values as
    Pillow, faster); palette PNGs give palette *indices* through Pillow (cv2 would return
    colours); anything else goes through Pillow unchanged (RGB gives H x W x 3). Scorers use it
    to check values (binary vs index) and to score from one decode. The file is opened and read
    once; its header is checked (against ``size`` (H, W) when given) before any decoding.
    """
    path = Path(path)
    data, header = _read_png(path, size)
    if header.colour_type == 0 and header.bit_depth in (8, 16):
        import cv2

        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is not None and arr.ndim == 2:
            return arr
    img = _pil(data, path)
    if img.mode in ("P", "L", "1"):
        return np.asarray(img, dtype=np.uint8)
    return np.asarray(img)
