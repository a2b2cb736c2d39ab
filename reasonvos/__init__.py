"""reasonvos: download, validate, load, build, score and run language-instructed video
segmentation benchmarks (ReasonVOS, MeViS, Ref-YouTube-VOS, Ref-DAVIS-17)."""

from importlib.metadata import PackageNotFoundError, version

from reasonvos.benchmarks.model import Benchmark, Sample, Video
from reasonvos.benchmarks.registry import BENCHMARKS, load_benchmark
from reasonvos.errors import InputError
from reasonvos.inference.model_registry import load_model
from reasonvos.inference.runner import run_inference

try:
    __version__ = version("reasonvos")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["BENCHMARKS", "Benchmark", "InputError", "Sample", "Video", "load_benchmark", "__version__",
           "load_model", "run_inference"]
