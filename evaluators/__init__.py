"""reasonvos.evaluators: J, F, J&F, DAVIS statistics, gIoU/cIoU, protocols, scorer, results."""

from .results import Results
from .scorer import score

__all__ = ["Results", "score"]
