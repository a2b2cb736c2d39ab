"""Import another method's published predictions and score them into a results file.

Several baselines cannot reasonably be run here (CUDA-op stacks, missing weights) but their
authors released prediction folders or submission zips. This scores such a folder or archive
with the toolkit's own scorer and records where it came from (``method_meta``: role
``published``, the source URL or citation, the archive's sha256, the import date), so the numbers
enter the leaderboard as *measured from published predictions*, never as our own runs. Archives
are unpacked with :mod:`reasonvos.acquire.extract` (no absolute paths, ``..`` or links; size caps) into a
temporary folder that is removed afterwards.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reasonvos.acquire.extract import extract_archive, sha256_file
from reasonvos.errors import InputError, MissingFileError, PredictionError

if TYPE_CHECKING:
    from reasonvos.evaluators import Results

    from reasonvos.benchmarks.model import Benchmark

#: how deep below the given folder the prediction layout may start (wrapper folders in zips)
MAX_WRAPPER_DEPTH = 4
#: how many samples' folders are used to recognise the layout
_MARKER_SAMPLES = 20


def layout_markers(benchmark: Benchmark) -> list[str]:
    """Relative folders that exist in any prediction root of this benchmark (sample folders)."""
    return list(dict.fromkeys(str(benchmark.prediction_dir(s)) for s in benchmark.samples[:_MARKER_SAMPLES]))


def find_prediction_root(folder: Path, benchmark: Benchmark) -> Path:
    """The shallowest folder under ``folder`` laid out as this benchmark's predictions."""
    markers = layout_markers(benchmark)
    if not markers:
        raise InputError(benchmark.meta_path, f"{benchmark.name} has no samples to import predictions for")
    level = [folder]
    for _ in range(MAX_WRAPPER_DEPTH + 1):
        nxt: list[Path] = []
        for d in level:
            if any((d / m).is_dir() for m in markers):
                return d
            nxt.extend(sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")))
        level = nxt
    raise PredictionError(folder, f"no {benchmark.name} prediction layout found (looked for sample folders "
                          f"such as {markers[0]!r} up to {MAX_WRAPPER_DEPTH} levels deep)")


def provenance(pred: Path, source: str, sha256: str | None) -> dict:
    """The method metadata recorded for imported predictions."""
    return {
        "role": "published",
        "source": source,
        "predictions": pred.name,
        "archive_sha256": sha256,
        "imported": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }


def import_predictions(
    benchmark: Benchmark,
    pred: str | Path,
    method: str,
    source: str,
    out: str | Path,
    protocol: str | None = None,
    missing: str = "error",
    workers: int | None = None,
    quiet: bool = True,
) -> Results:
    """Score ``pred`` (a folder or a zip/tar archive in ``benchmark``'s layout) and write ``out``."""
    from reasonvos.evaluators import score
    from reasonvos.evaluators.results import check_output_path

    pred, out = Path(pred), Path(out)
    check_output_path(out, "the results file")
    if not method.strip():
        raise InputError(None, "--method must name the method whose predictions these are")
    if not source.strip():
        raise InputError(None, "--source must give where the predictions come from (URL or citation)")
    if pred.is_dir():
        meta = provenance(pred, source, None)
        results = score(benchmark, find_prediction_root(pred, benchmark), protocol=protocol, workers=workers,
                        missing=missing, method=method, method_meta=meta, quiet=quiet)
    elif pred.is_file():
        digest = sha256_file(pred)
        meta = provenance(pred, source, digest)
        out.parent.mkdir(parents=True, exist_ok=True)
        # unpack beside the results file: archives of full benchmarks can be large for /tmp
        with tempfile.TemporaryDirectory(prefix=".reasonvos-import-", dir=out.parent) as tmp:
            target = extract_archive(pred, Path(tmp) / "predictions", layout_markers=layout_markers(benchmark),
                                     sha256=digest, quiet=quiet)
            results = score(benchmark, target, protocol=protocol, workers=workers, missing=missing,
                            method=method, method_meta=meta, quiet=quiet)
    else:
        raise MissingFileError(pred, "prediction folder or archive not found")
    results.to_json(out)
    return results
