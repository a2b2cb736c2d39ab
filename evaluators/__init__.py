"""reasonvos.evaluators: J, F, J&F, DAVIS statistics, gIoU/cIoU, protocols, scorer, results.

``score`` and ``Results`` are imported on first use, so that light modules of this package (the
results schema, the protocol registry) can be imported without pandas and the scoring stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import Results
    from .scorer import score

__all__ = ["Results", "score"]


def __getattr__(name: str) -> Any:
    if name == "Results":
        from .results import Results as value
    elif name == "score":
        from .scorer import score as value
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
