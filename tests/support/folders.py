"""Folders with properties the output tests need."""

from __future__ import annotations

import os
from pathlib import Path


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder no new file can be created in: a read-only folder, or (as root, whom modes do
    not stop) the sysfs root."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        return Path("/sys")
    return folder
