"""Benchmarks defined outside the package (what a third-party plugin holds), and a way to
"install" one through the ``reasonvos.benchmarks`` entry point group without pip."""

from __future__ import annotations

from pathlib import Path


def fake_distribution(site: Path, entry_points: dict[str, str], name: str = "reasonvos-plugin") -> Path:
    """Write an installed distribution's metadata into ``site`` (put ``site`` on sys.path): what
    ``pip install`` of a package declaring ``[project.entry-points."reasonvos.benchmarks"]`` leaves."""
    dist = Path(site) / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[reasonvos.benchmarks]\n{lines}")
    return dist
