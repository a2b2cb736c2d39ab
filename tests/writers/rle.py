"""COCO RLE as the MeViS and BURST releases store it, written with pycocotools directly.

The fixtures do not use ``reasonvos.masks.encode_rle``: a loader test would otherwise only check
our encoder against our own decoder.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask


def coco_rle(mask: np.ndarray) -> dict:
    """A compressed COCO RLE (column-major runs) with ``counts`` as a JSON-ready string."""
    rle = coco_mask.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
