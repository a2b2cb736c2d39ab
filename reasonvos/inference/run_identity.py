"""What makes two ``infer`` runs the same run, so that resuming one never mixes in another.

A run is identified by the benchmark and split, the model's registry name, every option that can
change the predictions (the options dataclass, as JSON), the identity of the weights the options
point at, and the toolkit's version. Models built without the registry (constructed directly in
Python) have no options dataclass; their ``describe()`` stands in for the options.

Weights identity, chosen to be cheap on multi-gigabyte checkpoints yet blind to copies and
``touch``: every regular file under a weights folder (or the weights file itself), followed
through the symlinks a Hugging Face cache uses, contributes its relative name, its size and a
SHA-256 -- of the whole file when it is at most 2 MiB (configs, tokenizers, indexes), else of its
size, first MiB and last MiB. Modification times are not used: a copied or re-downloaded
identical checkpoint keeps its identity, while a different checkpoint of the same size differs in
its headers (safetensors) or tails. A hub id is looked up in the local Hugging Face cache, never
on the network; the snapshot folder found there is fingerprinted the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from reasonvos.inference.options import as_json, flag, resume_relevant, weight_sources

MANIFEST_FORMAT = "reasonvos-infer-run/2"
WHOLE_FILE_LIMIT = 2 << 20
EDGE = 1 << 20


def _file_digest(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= WHOLE_FILE_LIMIT:
            h.update(f.read())
        else:
            h.update(str(size).encode())
            h.update(f.read(EDGE))
            f.seek(size - EDGE)
            h.update(f.read(EDGE))
    return h.hexdigest()


def _files(root: Path) -> list[tuple[str, Path]]:
    if root.is_file():
        return [(root.name, root)]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):  # symlinked files are followed, folders not
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file():
                out.append((path.relative_to(root).as_posix(), path))
    return out


def fingerprint(path: Path) -> dict[str, Any]:
    """The identity of a weights file or folder (see the module's docstring)."""
    h = hashlib.sha256()
    files = total = 0
    for rel, p in _files(path):
        size = p.stat().st_size
        h.update(f"{rel}\t{size}\t{_file_digest(p, size)}\n".encode())
        files += 1
        total += size
    return {"path": str(path), "files": files, "bytes": total, "sha256": h.hexdigest()}


def _local(source: str) -> Path | None:
    """The local file or folder a weights option names: a path, or a hub id in the local HF cache."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    if source.count("/") != 1 or source.startswith((".", "/")):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, local_files_only=True))
    except Exception:  # not cached (or no hub library): nothing local to fingerprint
        return None


def weights_identity(options: Any) -> dict[str, Any]:
    """Fingerprints of the weights the options make the model read, by option name."""
    out: dict[str, Any] = {}
    for name, source in weight_sources(options).items():
        local = _local(source)
        out[name] = {"source": source, **(fingerprint(local) if local is not None else {"sha256": None})}
    return out


def options_identity(name: str, options: Any) -> dict[str, Any]:
    """The part of a run's identity that is known before the model is built (and its weights loaded)."""
    return {
        "model_name": name,
        "options": as_json(options),
        "resume_ignores": sorted(set(as_json(options)) - resume_relevant(type(options))),
        "weights": weights_identity(options),
    }


def model_identity(model: Any) -> dict[str, Any]:
    """The model part of a run's identity: registry name, options, weights, description."""
    description = model.describe()
    options = getattr(model, "options", None)
    if options is None:  # built directly, not through the registry: its description stands in
        name = description.get("name", model.name)
        return {"model_name": name, "options": None, "resume_ignores": [], "weights": {}, "model": description}
    return {**options_identity(getattr(model, "registry_name", None) or model.name, options), "model": description}


def _show(value: Any) -> str:
    if value is None:
        return "(unset)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _short(weights: Any) -> str:
    digest = weights.get("sha256") if isinstance(weights, dict) else None
    return digest[:12] if isinstance(digest, str) else "(not found)"


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Each setting in which run manifest ``old`` and ``new`` differ, as ``what old -> new``."""
    diffs: list[str] = []
    for key, what in (("benchmark", "benchmark"), ("split", "split"), ("model_name", "model")):
        if old.get(key) != new.get(key):
            diffs.append(f"{what} {_show(old.get(key))} -> {_show(new.get(key))}")
    old_opts, new_opts = old.get("options"), new.get("options")
    if isinstance(old_opts, dict) and isinstance(new_opts, dict):
        ignored = set(new.get("resume_ignores", [])) | set(old.get("resume_ignores", []))
        for name in dict.fromkeys([*old_opts, *new_opts]):
            if name not in ignored and old_opts.get(name) != new_opts.get(name):
                diffs.append(f"{flag(name)} {_show(old_opts.get(name))} -> {_show(new_opts.get(name))}")
        old_w, new_w = old.get("weights") or {}, new.get("weights") or {}
        for name in dict.fromkeys([*old_w, *new_w]):
            a, b = old_w.get(name), new_w.get(name)
            if (a or {}).get("sha256") != (b or {}).get("sha256"):
                diffs.append(f"weights of {flag(name)} {_short(a)} -> {_short(b)}")
    elif old_opts is not None or new_opts is not None:
        diffs.append("options " + ("recorded" if old_opts is not None else "(not recorded)") + " -> "
                     + ("recorded" if new_opts is not None else "(not recorded)"))
    if not (isinstance(old_opts, dict) and isinstance(new_opts, dict)):
        old_m, new_m = old.get("model") or {}, new.get("model") or {}
        for key in dict.fromkeys([*old_m, *new_m]):
            if key != "name" and old_m.get(key) != new_m.get(key):
                diffs.append(f"model setting {key} {_show(old_m.get(key))} -> {_show(new_m.get(key))}")
    old_v, new_v = (old.get("toolkit") or {}).get("version"), (new.get("toolkit") or {}).get("version")
    if old_v != new_v:
        diffs.append(f"reasonvos {_show(old_v)} -> {_show(new_v)}")
    return diffs
