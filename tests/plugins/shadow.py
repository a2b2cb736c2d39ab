"""A plugin that declares a benchmark under a built-in's name (it must not replace it)."""

import dataclasses

from reasonvos.benchmarks.mevis import SPEC as _MEVIS

SPEC = dataclasses.replace(_MEVIS, display_name="Shadowed MeViS")
