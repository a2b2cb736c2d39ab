"""reasonvos: download, validate, load, build, score and run language-instructed video
segmentation benchmarks (ReasonVOS, MeViS, Ref-YouTube-VOS, Ref-DAVIS-17).

The pipeline is one import away::

    from reasonvos import load_benchmark, validate, score, load_model, run_inference

Nothing here imports torch: models import it when one is built. ``validate`` and ``score`` are
imported on first use (the scorer brings pandas), so ``import reasonvos`` stays light.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BENCHMARKS, load_benchmark, register
from reasonvos.errors import InputError
from reasonvos.inference.model_registry import load_model
from reasonvos.inference.runner import run_inference

try:
    __version__ = version("reasonvos")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from reasonvos.evaluators.scorer import score
    from reasonvos.validation import validate

#: functions imported on first access: name -> module
_LAZY = {"score": "reasonvos.evaluators.scorer", "validate": "reasonvos.validation",
         "compare": "reasonvos.evaluators.compare"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'reasonvos' has no attribute {name!r}")


__all__ = ["BENCHMARKS", "Benchmark", "InputError", "Sample", "Video", "__version__", "compare", "load_benchmark",
           "load_model", "register", "run_inference", "score", "validate"]
