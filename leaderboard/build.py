"""Build the whole leaderboard folder from results files: tables, plots, page, error analysis.

Layout of ``out_dir``::

    index.html                      self-contained page (open it from file://)
    tables/<benchmark-split>.md|tex|csv, tables/leaderboard.md|csv (all tables)
    plots/<name>.png|svg
    analysis/<benchmark>-<method>/<rank>_<nn>_<key>.png, analysis.json
    browser/<benchmark-split-protocol>/<nnn>_<key>/m<method>_<frame>.png   per-sample browser thumbnails
    .reasonvos-output.json          marker: the files this command wrote

``out_dir`` is an owned folder (:mod:`reasonvos.outputs`): new, empty, or written by an earlier
``leaderboard``. Every file is assembled in a private staging folder first and renamed in only
once the whole build has succeeded; files of an earlier build that this one does not write are
removed, and files of the user's (``plots/fig.pdf``) are never touched. A failed build changes
nothing: the earlier leaderboard stays whole, never new tables beside an old page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reasonvos.benchmarks.model import Benchmark
from reasonvos.errors import InputError
from reasonvos.fileio import write_bytes_atomic, write_text_atomic
from reasonvos.outputs import OutputFolder, check_outputs, owned_folder

from .browser import (
    DEFAULT_FRAMES,
    DEFAULT_SAMPLES,
    BrowserGroup,
    Predictions,
    browser_groups,
    make_thumbnails,
)
from .error_analysis import error_analysis
from .page import AnalysisSection, render_page
from .plots import all_plots
from .reported import load_reported
from .store import Entry, load_store
from .tables import Table, build_tables, md_escape, to_csv, to_latex, to_markdown
from .uncertainty import DEFAULT_SETTINGS, Settings, attach

DEFAULT_TITLE = "reasonvos leaderboard"
#: the command that owns a leaderboard folder (its marker names it)
COMMAND = "leaderboard"


@dataclass
class AnalysisSpec:
    """Which predictions to analyse: a benchmark (name + root, or a loaded one) and a folder.

    ``method`` picks the results entry when several methods were scored on that benchmark.
    """

    benchmark: str | Benchmark
    root: str | Path | None
    pred: str | Path
    method: str | None = None
    n: int = 5


@dataclass
class BuildResult:
    out_dir: Path
    page: Path
    entries: list[Entry]
    tables: list[Table]
    files: list[Path] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "method"


def _pick_entry(spec: AnalysisSpec, name: str, entries: Sequence[Entry]) -> Entry:
    candidates = [x for x in entries if x.origin == "measured" and x.benchmark == name]
    if spec.method is not None:
        candidates = [x for x in candidates if x.method == spec.method]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        what = f"method {spec.method!r} on " if spec.method else ""
        raise InputError(Path(spec.pred), f"no results of {what}benchmark {name!r} were given for this analysis")
    methods = ", ".join(sorted(repr(x.method) for x in candidates))
    raise InputError(Path(spec.pred), f"several methods were scored on {name!r} ({methods}); name one "
                                      "(--analysis BENCHMARK:ROOT:PRED:METHOD)")


@dataclass
class BrowseOptions:
    """How many samples per benchmark get thumbnails in the per-sample browser, and how many frames."""

    samples: int = DEFAULT_SAMPLES
    frames: int = DEFAULT_FRAMES


def _run_analyses(specs: Sequence[AnalysisSpec], entries: Sequence[Entry], folder: Path,
                  predictions: list[Predictions] | None = None) -> list[AnalysisSection]:
    """Error analysis of every spec; each one's loaded benchmark and folder go to ``predictions``
    (for the browser's thumbnails), one benchmark object per benchmark root and split."""
    from reasonvos.benchmarks.registry import load_benchmark

    sections = []
    used: set[str] = set()
    loaded: dict[tuple, Benchmark] = {}
    for spec in specs:
        name = spec.benchmark.name if isinstance(spec.benchmark, Benchmark) else spec.benchmark
        entry = _pick_entry(spec, name, entries)
        if isinstance(spec.benchmark, Benchmark):
            bench = spec.benchmark
        else:
            if spec.root is None:
                raise InputError(None, f"analysis of {name!r} needs the benchmark root")
            where = (name, str(Path(spec.root).resolve()), entry.split_raw)
            bench = loaded.get(where) or load_benchmark(name, spec.root, split=entry.split_raw)
            loaded[where] = bench
        sub = slug(f"{name}-{entry.split or ''}-{entry.method}")
        while sub in used:
            sub += "-x"
        used.add(sub)
        items = error_analysis(bench, spec.pred, entry, folder / sub, n=spec.n)
        images = {i.image: (folder / sub / i.image).read_bytes() for i in items}
        sections.append(AnalysisSection(entry.method, name, entry.split, f"analysis/{sub}", items, images))
        if predictions is not None:
            predictions.append(Predictions(entry, bench, Path(spec.pred)))
    return sections


def _run_browser(entries: Sequence[Entry], predictions: Sequence[Predictions], folder: Path,
                 options: BrowseOptions) -> list[BrowserGroup]:
    """The browser's groups, with thumbnails under ``folder`` (the page's ``browser/``)."""
    groups = browser_groups(entries)
    for g in groups:
        make_thumbnails(g, predictions, folder / g.id, f"{folder.name}/{g.id}", options.samples, options.frames)
    return groups


def build_leaderboard(
    results_paths: Iterable[str | Path] | str | Path,
    out_dir: str | Path,
    include_reported: bool = True,
    analyses: Sequence[AnalysisSpec] = (),
    title: str = DEFAULT_TITLE,
    reported_path: str | Path | None = None,
    browse: BrowseOptions | None = None,
    ci: Settings | None = DEFAULT_SETTINGS,
) -> BuildResult:
    """Read results files (or folders of them) and write the leaderboard into ``out_dir``.

    ``browse`` bounds the per-sample browser's thumbnails (made from the ``analyses`` folders);
    ``ci`` sets the bootstrap of the rows' 95% CIs (None: no CIs, no error bars)."""
    out_dir = Path(out_dir)
    inputs = [results_paths] if isinstance(results_paths, str | Path) else list(results_paths)
    read = [*inputs, reported_path, *(x for a in analyses if not isinstance(a.benchmark, Benchmark)
                                      for x in (a.root, a.pred)),
            *(a.pred for a in analyses if isinstance(a.benchmark, Benchmark))]
    check_outputs([OutputFolder(out_dir, "the leaderboard folder", COMMAND)], inputs=read)
    with owned_folder(out_dir, COMMAND, "the leaderboard folder") as stage:
        built = _build(inputs, stage, include_reported, analyses, title, reported_path, browse or BrowseOptions(), ci)
    entries, tables, ignored, names = built
    files = [out_dir / name for name in names]
    return BuildResult(out_dir, out_dir / "index.html", entries, tables, files, ignored)


def _build(inputs: list, stage: Path, include_reported: bool, analyses: Sequence[AnalysisSpec], title: str,
           reported_path: str | Path | None, browse: BrowseOptions, ci: Settings | None = None,
           ) -> tuple[list[Entry], list[Table], list[tuple[Path, str]], list[str]]:
    """Write every file of the leaderboard into ``stage``; return what the result reports."""
    from reasonvos import __version__

    store = load_store(inputs)
    entries = list(store.entries)
    if include_reported:
        entries += load_reported(reported_path)
    if not entries:
        raise InputError(None, "nothing to show: no results files and reported numbers left out")
    tables = build_tables(entries)
    attach(tables, ci)
    plots = all_plots(tables, ci)
    links: dict[str, dict[str, str]] = {}
    sections: list[AnalysisSection] = []
    (stage / "tables").mkdir()
    for t in tables:
        for ext, text in (("md", to_markdown(t)), ("tex", to_latex(t)), ("csv", to_csv(t))):
            write_text_atomic(stage / "tables" / f"{t.slug}.{ext}", text)
    write_text_atomic(stage / "tables" / "leaderboard.md",
                      f"# {md_escape(title)}\n\n" + "\n".join(to_markdown(t) for t in tables))
    write_text_atomic(stage / "tables" / "leaderboard.csv", to_csv(tables))
    (stage / "plots").mkdir()
    for p in plots:
        if p.skipped:
            continue
        write_bytes_atomic(stage / "plots" / f"{p.name}.png", p.png or b"")
        write_bytes_atomic(stage / "plots" / f"{p.name}.svg", p.svg or b"")
        links[p.name] = {"PNG": f"plots/{p.name}.png", "SVG": f"plots/{p.name}.svg"}
    predictions: list[Predictions] = []
    if analyses:
        (stage / "analysis").mkdir()
        sections = _run_analyses(analyses, store.entries, stage / "analysis", predictions)
    groups = _run_browser(store.entries, predictions, stage / "browser", browse)
    html = render_page(title, tables, plots, entries, store.ignored, sections, links,
                       generated_by=f"Generated by reasonvos {__version__}.", browser=groups,
                       browse_samples=browse.samples)
    write_text_atomic(stage / "index.html", html)
    names = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    return entries, tables, store.ignored, names
