"""Where each benchmark comes from: the sources registry (``reasonvos/data/sources.json``).

The registry is data, not code, so a new checksum, mirror or count is a one-line edit that the
downloader and the validator pick up alike. This module only parses it into typed records and
answers the questions the downloader asks (which file is this user-supplied archive?).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from reasonvos.errors import InputError, MetadataError

METHODS = ("http", "gdrive", "gdrive_folder", "hf", "hf_folder", "manual")


@dataclass(frozen=True)
class SourceFile:
    """One file of a benchmark release and how to get, check and unpack it."""

    name: str
    method: str
    size: int | None = None
    sha256: str | None = None
    checksum_note: str = ""
    contents: str = ""
    urls: tuple[str, ...] = ()
    gdrive_id: str | None = None
    hf_repo: str | None = None
    hf_path: str | None = None
    hf_patterns: tuple[str, ...] = ()
    manual_url: str | None = None
    match: tuple[str, ...] = ()  # extra glob patterns a user-supplied file name may match
    multiple: bool = False  # several user-supplied archives may fill this entry
    archive: str | None = None  # "zip", "tar" or "auto"; None for plain files
    extract_to: str | None = None  # folder under the root the archive's layout goes to
    layout_markers: tuple[str, ...] = ()  # names that identify the archive's layout root
    dest: str | None = None  # where a plain file (or hub folder) goes under the root
    required: bool = True

    @property
    def automatic(self) -> bool:
        return self.method != "manual"

    def matches_name(self, filename: str) -> bool:
        """Whether a user-supplied file's name says it is this entry."""
        base = Path(self.name).name
        return filename == base or any(fnmatch.fnmatch(filename, pat) for pat in self.match)

    def where_to_get(self) -> str:
        if self.urls:
            return self.urls[0]
        if self.manual_url:
            return self.manual_url
        if self.hf_repo:
            return f"https://huggingface.co/datasets/{self.hf_repo}"
        return "(see the benchmark's homepage)"


@dataclass(frozen=True)
class MemberCheck:
    """A file inside an archive whose checksum is published (e.g. MeViS v1 mask_dict.json)."""

    path: str
    sha256: str
    source: str = ""


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    files: tuple[SourceFile, ...]
    members: tuple[MemberCheck, ...] = ()


@dataclass(frozen=True)
class BenchmarkSource:
    """Everything the registry knows about one benchmark."""

    name: str
    title: str
    homepage: str
    licence: str
    default_variant: str
    variants: dict[str, Variant]
    counts: dict[str, Any] = field(default_factory=dict)
    superseded: tuple[dict, ...] = ()

    def variant(self, name: str | None = None) -> Variant:
        name = name or self.default_variant
        if name not in self.variants:
            raise InputError(None, f"{self.name} has no variant {name!r}; known: {', '.join(self.variants)}")
        return self.variants[name]


def _file(raw: dict, where: str, path: Path) -> SourceFile:
    if not isinstance(raw, dict) or "name" not in raw or raw.get("method") not in METHODS:
        raise MetadataError(path, f"{where}: needs a 'name' and a 'method' in {METHODS}")
    sha = raw.get("sha256")
    if sha is not None and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise MetadataError(path, f"{where}: sha256 must be 64 lower-case hex digits")
    if sha is None and raw.get("size") is None and not raw.get("checksum_note"):
        raise MetadataError(path, f"{where}: no size or sha256, and no checksum_note saying none is published")
    return SourceFile(
        name=raw["name"], method=raw["method"], size=raw.get("size"), sha256=sha,
        checksum_note=raw.get("checksum_note", ""), contents=raw.get("contents", ""),
        urls=tuple(raw.get("urls", ())), gdrive_id=raw.get("gdrive_id"), hf_repo=raw.get("hf_repo"),
        hf_path=raw.get("hf_path"), hf_patterns=tuple(raw.get("hf_patterns", ())),
        manual_url=raw.get("manual_url"), match=tuple(raw.get("match", ())),
        multiple=bool(raw.get("multiple", False)), archive=raw.get("archive"),
        extract_to=raw.get("extract_to"), layout_markers=tuple(raw.get("layout_markers", ())),
        dest=raw.get("dest"), required=bool(raw.get("required", True)),
    )


def parse_registry(data: dict, path: Path) -> dict[str, BenchmarkSource]:
    """Turn the registry JSON into records, refusing entries the downloader could not act on."""
    out: dict[str, BenchmarkSource] = {}
    for name, raw in data.get("benchmarks", {}).items():
        variants: dict[str, Variant] = {}
        for vname, vraw in raw.get("variants", {}).items():
            files = tuple(
                _file(f, f"{name}.{vname}.files[{i}]", path) for i, f in enumerate(vraw.get("files", ()))
            )
            members = tuple(MemberCheck(m["path"], m["sha256"], m.get("source", "")) for m in vraw.get("members", ()))
            variants[vname] = Variant(vname, vraw.get("description", ""), files, members)
        if raw.get("default_variant") not in variants:
            raise MetadataError(path, f"{name}: default_variant is not one of its variants")
        out[name] = BenchmarkSource(
            name=name, title=raw.get("title", name), homepage=raw.get("homepage", ""),
            licence=raw.get("licence", ""), default_variant=raw["default_variant"], variants=variants,
            counts=raw.get("counts", {}), superseded=tuple(raw.get("superseded", ())),
        )
    return out


@lru_cache(maxsize=1)
def registry() -> dict[str, BenchmarkSource]:
    """The packaged registry (parsed once)."""
    ref = resources.files("reasonvos") / "data" / "sources.json"
    path = Path(str(ref))
    return parse_registry(json.loads(ref.read_text(encoding="utf-8")), path)


def get_source(name: str) -> BenchmarkSource:
    reg = registry()
    if name not in reg:
        raise InputError(None, f"no download source for {name!r}; known: {', '.join(reg)}")
    return reg[name]


def source_name_of(benchmark: str) -> str | None:
    """The sources-registry key of a benchmark: its spec's ``source_name`` (None: no download
    source); a name no benchmark is registered under is taken as a source name."""
    from reasonvos.benchmarks import registry as benchmarks  # lazy: imports every benchmark module

    spec = benchmarks.find(benchmark)
    return spec.source_name if spec is not None else benchmark


def published_counts(name: str, split: str | None = None, version: str | None = None) -> dict | None:
    """The published counts of one split (and version, for MeViS) of benchmark ``name``, or None if
    none are published (or the benchmark has no download source)."""
    source = source_name_of(name)
    if source is None:
        return None
    counts = get_source(source).counts
    if version and "versions" in counts:
        return counts["versions"].get(version, {}).get(split or "")
    return counts.get("splits", {}).get(split or "")
