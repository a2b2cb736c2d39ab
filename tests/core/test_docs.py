"""The documentation lives in the repository, and links into it cannot rot.

- No source, test or doc file takes its facts from outside the repository: the design notes kept
  next to the project (a ``specs`` folder) are never cited, by path or by section sign. A ``§`` is
  only allowed for a paper's sections ("paper §5.1").
- Every ``docs/<page>.md#<anchor>`` cited anywhere, and every link between the docs pages, resolves
  to an existing page and heading (GitHub's anchor rules).
- ``docs/README.md`` indexes every page.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SUFFIXES = {".py", ".md", ".json", ".toml"}
SKIP_DIRS = {".git", ".venv", "build", "dist", "node_modules", "__pycache__"}

# built from pieces so that this file does not match its own patterns
_SPECS = "spec" + "s"
OUTSIDE = [
    (re.compile(r"shared/" + _SPECS), "a path into the shared specs"),
    (re.compile(r"(?<![\w.-])" + _SPECS + "/"), "a specs/ path"),
    (re.compile(r"(?i)\bspecs?\b[^\n§]{0,25}" + "§"), "a spec section"),
    (re.compile(r"(?<![\w/])(datasets|videolisa|baselines|revos|postopt)\.md\b"), "a spec file"),
]
SECTION = re.compile("§")
#: ``docs/page.md#anchor``, or a bare ``docs/page.md`` not in backticks (`docs/X.md` in backticks
#: cites another repository's file, e.g. XMem's `docs/PALETTE.md`)
DOC_REF = re.compile(r"(?<![\w/])docs/([\w.-]+\.md)#([\w-]+)|(?<![\w/`])docs/([\w.-]+\.md)(?![\w#])")
MD_LINK = re.compile(r"\]\(([\w.-]+\.md)?(?:#([\w-]+))?\)")


def project_files() -> list[Path]:
    """Tracked and new (not ignored) files; a plain walk when git is not available."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True).stdout.decode()
        paths = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]
    return sorted(p for p in paths if p.suffix in SUFFIXES and p.is_file())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces become hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings (fenced code skipped; repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def outside_references(path: Path, text: str) -> list[str]:
    problems = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for pattern, what in OUTSIDE:
            if pattern.search(line):
                problems.append(f"{path}:{lineno}: {what}: {line.strip()}")
        for m in SECTION.finditer(line):
            if "paper" not in line[max(0, m.start() - 20):m.start()].lower():
                problems.append(f"{path}:{lineno}: a § that is not a paper's section: {line.strip()}")
    return problems


def broken_links(path: Path, text: str) -> list[str]:
    """``docs/page.md#anchor`` anywhere; ``page.md#anchor`` and ``#anchor`` links inside docs/."""
    refs = [(DOCS / (page or bare), anchor) for page, anchor, bare in DOC_REF.findall(text)]
    if path.parent == DOCS and path.suffix == ".md":
        refs += [(DOCS / page if page else path, anchor) for page, anchor in MD_LINK.findall(text)]
    problems = []
    for page, anchor in refs:
        if not page.is_file():
            problems.append(f"{path}: no page {page.relative_to(ROOT)}")
        elif anchor and anchor not in anchors(page):
            problems.append(f"{path}: no heading #{anchor} in {page.relative_to(ROOT)}")
    return problems


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def test_nothing_cites_the_specs_outside_the_repository():
    files = [p for p in project_files() if p != Path(__file__).resolve()]
    assert files, "no project files found"
    problems = [p for f in files for p in outside_references(f.relative_to(ROOT), _text(f))]
    assert not problems, "facts must be cited from docs/ (see docs/README.md):\n" + "\n".join(problems)


def test_every_docs_link_resolves_to_a_heading():
    files = [p for p in project_files() if p != Path(__file__).resolve()]
    problems = [p for f in files for p in broken_links(f, _text(f))]
    assert not problems, "\n".join(problems)


def test_the_docs_index_lists_every_page():
    index = _text(DOCS / "README.md")
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert pages
    assert [p for p in pages if f"]({p})" not in index] == []


@pytest.mark.parametrize(("heading", "anchor"), [
    ("The [SEG] hidden state", "the-seg-hidden-state"),
    ("Precision, recall and F", "precision-recall-and-f"),
    ("Ref-DAVIS-17 expression order", "ref-davis-17-expression-order"),
    ("`expression`", "expression"),
])
def test_anchors_follow_githubs_rules(heading, anchor):
    assert slug(heading) == anchor


def test_the_checks_catch_a_rotten_link_and_a_spec_citation(tmp_path):
    """The checks are not vacuous: a heading renamed away and a spec citation are both reported."""
    code = tmp_path / "mod.py"
    text = ('"""Layout (docs/formats.md#no-such-heading), J (docs/metrics.md#region-similarity-j)."""\n'
            "# see the datasets " + "spec " + "§1.2\n")
    assert broken_links(code, text) == [f"{code}: no heading #no-such-heading in docs/formats.md"]
    assert len(outside_references(code, text)) == 2  # the spec citation and its bare section sign
    assert outside_references(code, "# Tsparse = 32 (paper §5.1)\n") == []
