"""The embedded sample benchmark: seeded, procedurally rendered, in the ReasonVOS layout."""

from reasonvos.demo.render import write_sample_benchmark

__all__ = ["write_sample_benchmark"]
