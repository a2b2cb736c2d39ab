"""Export a loaded benchmark as a Hugging Face ``datasets.Dataset`` (one row per sample).

Rows carry what a training or analysis pipeline needs without our loaders: the expression, its
ids and kind, the frame names and paths, and the ground truth as file paths where the format
stores one mask file per frame (ReasonVOS binary PNGs, Ref-YTVOS/DAVIS index PNGs whose value is
the object id) or else as COCO RLE of the union of the referred objects per frame (MeViS). ``datasets`` is the optional ``hf`` extra, imported lazily so
the core never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reasonvos.benchmarks.model import Benchmark, Sample
from reasonvos.masks import encode_rle

if TYPE_CHECKING:  # pragma: no cover
    import datasets


def _datasets() -> Any:
    try:
        import datasets
    except ImportError as e:
        raise ImportError("reasonvos.analysis.hf_export needs the Hugging Face 'datasets' package: "
                          "pip install 'reasonvos[hf]' (or pip install datasets)") from e
    return datasets


def features() -> datasets.Features:
    """The fixed schema, so exports of different benchmarks concatenate."""
    ds = _datasets()
    string_list = [ds.Value("string")]  # a Python list means "list of" in every datasets version
    return ds.Features({
        "benchmark": ds.Value("string"), "split": ds.Value("string"), "video": ds.Value("string"),
        "exp_id": ds.Value("string"), "key": ds.Value("string"), "text": ds.Value("string"),
        "kind": ds.Value("string"), "source": ds.Value("string"), "annotator": ds.Value("int32"),
        "obj_ids": string_list, "frames": string_list, "frame_paths": string_list,
        "mask_paths": string_list,
        "mask_rles": [{"size": [ds.Value("int32")], "counts": ds.Value("string")}],
    })


def _ground_truth(bench: Benchmark, sample: Sample) -> tuple[list[str], list[dict]]:
    """(mask paths, RLEs): the GT file of every scored frame where the format stores one file per
    frame (:meth:`Benchmark.gt_files`), else the union GT of every scored frame as COCO RLE."""
    if not bench.has_ground_truth:
        return [], []
    files = bench.gt_files(sample)
    if files is not None:
        return [str(p) for p in files.values()], []
    return [], [encode_rle(mask) for _frame, mask in bench.gt_masks(sample)]


def rows(bench: Benchmark) -> Iterator[dict]:
    """One dict per sample, in the benchmark's sample order."""
    for s in bench.samples:
        video = bench.videos[s.video_id]
        frame_paths = [str(video.image_path(f)) for f in video.frames] if video.image_dir is not None else []
        mask_paths, mask_rles = _ground_truth(bench, s)
        yield {
            "benchmark": bench.name, "split": bench.split, "video": s.video_id, "exp_id": s.exp_id,
            "key": s.key, "text": s.text, "kind": s.kind, "source": s.source, "annotator": s.annotator,
            "obj_ids": list(s.obj_ids), "frames": list(video.frames), "frame_paths": frame_paths,
            "mask_paths": mask_paths, "mask_rles": mask_rles,
        }


def to_dataset(bench: Benchmark) -> datasets.Dataset:
    """The benchmark as a ``datasets.Dataset`` with :func:`features` (one row per sample)."""
    ds = _datasets()
    return ds.Dataset.from_list(list(rows(bench)), features=features())
