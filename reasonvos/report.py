"""One problem/report type for everything that checks a user's files, and the sinks loaders report into.

A :class:`Problem` is one finding: its severity (``error``: the files cannot be used as they are;
``warning``: usable, but the reader must know), a kind (a short tag problems are grouped by), where
it is (a path, or a path and a place inside the file) and a message. A :class:`Report` collects
problems once each, groups them by kind for people, ends with one verdict line and serialises to
JSON. ``validate`` and the prediction checks of the scorer use the same type.

Loaders take a *sink* and report bad input into it instead of raising directly, so one parser per
format serves two callers:

- :data:`RAISE` (the default) raises the :class:`~reasonvos.errors.InputError` of the first error,
  exactly as a loader always did (same class, path and message), and ignores warnings;
- :class:`Collect` records every error and warning in a :class:`Report` and lets the loader go on
  where it can (a broken expression is skipped, the next one is read). Where it cannot go on, the
  loader calls :meth:`fatal`, which raises :class:`Abandoned` after recording.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reasonvos.errors import InputError

ERROR, WARNING = "error", "warning"
EXAMPLES = 5


@dataclass(frozen=True)
class Problem:
    """One finding: ``where`` names the file (and the place in it), ``message`` says what is wrong."""

    severity: str  # "error" or "warning"
    kind: str
    where: str
    message: str

    @property
    def path(self) -> str:
        return self.where

    @property
    def detail(self) -> str:
        return self.message

    def line(self) -> str:
        return f"{self.where}: {self.message}" if self.message else self.where


@dataclass
class Report:
    """Every problem found in one subject (a benchmark copy, a prediction folder), plus the facts
    (counts, version) a reader needs to trust it. With ``strict`` a warning fails the verdict too."""

    benchmark: str = ""
    root: Path | None = None
    split: str | None = None
    problems: list[Problem] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    strict: bool = False
    _seen: set = field(default_factory=set, repr=False)

    # -- recording -----------------------------------------------------------------------------

    def add(self, problem: Problem | Iterable[Problem]) -> None:
        """Record a problem (or several) once: two samples sharing a file must not report it twice."""
        for p in (problem,) if isinstance(problem, Problem) else problem:
            if p not in self._seen:
                self._seen.add(p)
                self.problems.append(p)

    def error(self, kind: str, where: object, message: str) -> None:
        self.add(Problem(ERROR, kind, str(where), message))

    def warn(self, kind: str, where: object, message: str) -> None:
        self.add(Problem(WARNING, kind, str(where), message))

    def sink(self, default_kind: str = "loader", suffix: str = "") -> Collect:
        """A collecting sink that records a loader's problems here."""
        return Collect(self, default_kind, suffix)

    def compare_counts(self, observed: dict, published: dict | None, where: str) -> None:
        """Counts that differ from the published ones are a warning: subsets are legal, but the
        reader must know."""
        for key, value in observed.items():
            expected = (published or {}).get(key)
            if expected is None or isinstance(expected, dict) or expected == value:
                continue
            self.warn("counts", where, f"{value} {key}, published {expected} (a subset, or another release?)")

    # -- reading -------------------------------------------------------------------------------

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """No errors (and, with ``strict``, no warnings either)."""
        return not (self.problems if self.strict else self.errors)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def of_kind(self, *kinds: str) -> list[Problem]:
        return [p for p in self.problems if p.kind in kinds]

    def counts(self) -> dict[str, int]:
        return dict(Counter(p.kind for p in self.problems))

    def kinds(self, severity: str | None = None) -> Counter:
        return Counter(p.kind for p in self.problems if severity is None or p.severity == severity)

    def verdict(self) -> str:
        word = "OK" if self.ok else "BROKEN"
        strict = "; strict: warnings fail too" if self.strict and self.warnings else ""
        return f"VERDICT: {word} ({len(self.errors)} errors, {len(self.warnings)} warnings{strict})"

    def title(self) -> str:
        where = f" at {self.root}" if self.root is not None else ""
        return f"validate {self.benchmark}{where}" + (f" (split {self.split})" if self.split else "")

    def format(self, examples: int | None = EXAMPLES) -> str:
        """Facts, then errors and warnings grouped by kind (largest group first, the first
        ``examples`` of each), then the verdict line."""
        lines = [self.title()]
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        for title, group in (("ERRORS", self.errors), ("WARNINGS", self.warnings)):
            if not group:
                continue
            lines.append(f"{title} ({len(group)})")
            by_kind: dict[str, list[Problem]] = defaultdict(list)
            for p in group:
                by_kind[p.kind].append(p)
            for kind, items in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                lines.append(f"  [{kind}] x{len(items)}")
                shown = items if examples is None else items[:examples]
                lines.extend(f"    {p.line()}" for p in shown)
                if len(shown) < len(items):
                    lines.append(f"    ... and {len(items) - len(shown)} more")
        lines.append(self.verdict())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark, "root": None if self.root is None else str(self.root),
            "split": self.split, "ok": self.ok, "strict": self.strict, "verdict": self.verdict(),
            "facts": self.facts,
            "counts": {"errors": dict(self.kinds(ERROR)), "warnings": dict(self.kinds(WARNING))},
            "problems": [p.__dict__ for p in self.problems],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def write_json(self, path: str | Path) -> None:
        from reasonvos.fileio import write_text_atomic

        write_text_atomic(path, self.to_json())

    def as_error(self, exc: type[InputError] = InputError, path: str | Path | None = None) -> InputError:
        """One exception summarising the report (the full report rides along as ``.report``)."""
        parts = [f"{n} {k}" for k, n in self.counts().items()]
        first = self.problems[0].line() if self.problems else ""
        err = exc(path if path is not None else self.root, f"{'; '.join(parts)} (first: {first})")
        err.report = self  # type: ignore[attr-defined]  # the CLI prints the full report
        return err


# --------------------------------------------------------------------------------------- sinks


class Abandoned(Exception):
    """A collecting loader met a problem it cannot read past; the problem is already recorded."""


class Raise:
    """The loading sink: the first error raises, as loaders always did; warnings are ignored."""

    collecting = False

    def error(self, exc: type[InputError], path: str | Path | None, problem: str, kind: str | None = None,
              where: str | None = None) -> None:
        raise exc(path, problem)

    def fatal(self, exc: type[InputError], path: str | Path | None, problem: str, kind: str | None = None,
              where: str | None = None) -> None:
        raise exc(path, problem)

    def warn(self, kind: str, where: object, message: str) -> None:
        pass

    def fact(self, key: str, value: Any) -> None:
        pass

    def guard(self, kind: str | None = None) -> Guard:
        return Guard(self, kind)


#: the default sink of every loader
RAISE = Raise()


class Collect(Raise):
    """The validating sink: every problem goes into ``report``; loading goes on where it can.

    ``where`` defaults to the error's path; ``kind`` to ``default_kind``; ``suffix`` is appended
    to error messages (e.g. the split being read).
    """

    collecting = True

    def __init__(self, report: Report, default_kind: str = "loader", suffix: str = "") -> None:
        self.report = report
        self.default_kind = default_kind
        self.suffix = suffix

    def error(self, exc: type[InputError], path: str | Path | None, problem: str, kind: str | None = None,
              where: str | None = None) -> None:
        self.report.error(kind or self.default_kind, where or (path if path is not None else ""),
                          problem + self.suffix)

    def fatal(self, exc: type[InputError], path: str | Path | None, problem: str, kind: str | None = None,
              where: str | None = None) -> None:
        self.error(exc, path, problem, kind, where)
        raise Abandoned(problem)

    def warn(self, kind: str, where: object, message: str) -> None:
        self.report.warn(kind, where, message)

    def fact(self, key: str, value: Any) -> None:
        self.report.facts[key] = value


class Guard:
    """``with sink.guard(kind) as g: ...; if g.failed: continue``: an InputError raised inside
    goes to the sink (so :data:`RAISE` re-raises it unchanged and :class:`Collect` records it and
    lets the loop move on to the next item)."""

    def __init__(self, sink: Raise, kind: str | None) -> None:
        self.sink, self.kind, self.failed = sink, kind, False

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or not isinstance(exc, InputError) or not self.sink.collecting:
            return False
        self.failed = True
        self.sink.error(type(exc), exc.path, exc.problem, self.kind)
        return True
