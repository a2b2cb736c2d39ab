"""The model registry: every model ``reasonvos infer``/``segment`` and :func:`load_model` know.

Each entry names, as ``"module:attribute"`` strings, the model's options dataclass (a module that
imports no torch, read to build ``--help``) and its build function (``build(options) ->
VideoSegmenter``, which may import torch and load weights). Nothing is imported until a model is
asked for, so ``import reasonvos`` and ``reasonvos --help`` never pull torch.

Extension point: a package adds a model with :func:`register` (``ModelSpec(name, options=...,
build=..., help=...)``), or through the ``reasonvos.models`` entry point group, whose entries
name a ``ModelSpec`` object (``mymodel = "mypkg.models:SPEC"``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from reasonvos.errors import InputError
from reasonvos.inference.options import make_options

if TYPE_CHECKING:
    from reasonvos.inference.segmenter import VideoSegmenter

#: the entry point group third-party models register under
ENTRY_POINT_GROUP = "reasonvos.models"


@dataclass(frozen=True)
class ModelSpec:
    """One model: its name, where its options and its build function live, its one-line help."""

    name: str
    options: str  # "package.module:OptionsClass" (must import without torch)
    build: str  # "package.module:function" taking the options instance
    help: str = ""


_REF = "reasonvos.baselines.reference"
_OPT = "reasonvos.baselines.options"

#: model name -> spec, in the order ``reasonvos infer --help`` lists them
MODELS: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("videolisa", "reasonvos.videolisa.options:VideoLisaOptions",
          "reasonvos.videolisa.segmenter:build_videolisa",
          "VideoLISA-3.8B (NeurIPS 2024): Sparse-Dense Sampling (32/4), one [SEG] token segments every "
          "frame with SAM"),
    ModelSpec("lisa", f"{_OPT}:LisaOptions", "reasonvos.baselines.lisa_xmem:build_lisa",
          "LISA-v1 (7B/13B) run on every frame, or frame 0's [SEG] token for all frames"),
    ModelSpec("lisa-xmem", f"{_OPT}:LisaXMemOptions", "reasonvos.baselines.lisa_xmem:build_lisa_xmem",
          "LISA segments a key frame, XMem (or Cutie) propagates the mask"),
    ModelSpec("flow-oracle", f"{_OPT}:FlowOracleOptions", f"{_REF}:build_flow_oracle",
          "ORACLE (uses ground truth): first visible GT mask propagated by Farneback optical flow"),
    ModelSpec("static-oracle", "reasonvos.inference.options:NoOptions", f"{_REF}:build_static_oracle",
          "ORACLE (uses ground truth): first visible GT mask repeated in every frame"),
    ModelSpec("empty", "reasonvos.inference.options:NoOptions", f"{_REF}:build_empty",
          "floor: an empty mask in every frame"),
    ModelSpec("full-frame", "reasonvos.inference.options:NoOptions", f"{_REF}:build_full_frame",
          "floor: the whole frame in every frame"),
)}

_PLUGINS_LOADED = False


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = ep.load()
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"entry point {ep.name!r} ({ep.value}) is not a ModelSpec")
        MODELS.setdefault(spec.name, spec)


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a model (a second spec with the same name is refused unless ``replace``)."""
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"register() takes a ModelSpec, not {type(spec).__name__}")
    _load_plugins()
    if spec.name in MODELS and not replace and MODELS[spec.name] != spec:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    MODELS[spec.name] = spec
    return spec


def names() -> tuple[str, ...]:
    _load_plugins()
    return tuple(MODELS)


def get(name: str) -> ModelSpec:
    _load_plugins()
    try:
        return MODELS[name]
    except KeyError:
        raise InputError(None, f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def _resolve(path: str) -> Any:
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


def options_class(name: str) -> type:
    """The options dataclass of model ``name`` (imports no torch). Raises ImportError and the like
    when the declaring module cannot be imported; the CLI turns that into an "unavailable" entry."""
    return _resolve(get(name).options)


def unavailable_reason(name: str) -> str | None:
    """None when the model's options can be imported, else why not (one line)."""
    try:
        options_class(name)
    except Exception as e:  # any failure of an optional model module must not break the whole CLI
        return f"{type(e).__name__}: {e}"
    return None


def load_model(name: str, **options: Any) -> VideoSegmenter:
    """Build model ``name`` with ``options`` (keywords named like the dataclass fields; the rest
    keep their defaults). Imports torch and loads weights when the model needs them.

    Unknown option names and wrong types raise TypeError; bad values an InputError naming the option.
    """
    spec = get(name)
    try:
        cls = options_class(name)
    except InputError:
        raise
    except Exception as e:
        raise InputError(None, f"model {name!r} is not available: its module {spec.options} cannot be "
                         f"imported ({type(e).__name__}: {e})") from e
    opts = make_options(cls, options, name)
    build = _resolve(spec.build)
    model = build(opts)
    model.options = opts
    model.registry_name = name
    return model
