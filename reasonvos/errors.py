"""Errors the toolkit raises for bad input.

Every problem with a user's files is an :class:`InputError` that names the path and says what is
wrong, so the CLI can print one clear line and exit with status 1 instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A file or folder given to the toolkit is missing, malformed or inconsistent."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)


class MetadataError(InputError):
    """A metadata file (JSON, text list) is missing, unreadable or has the wrong schema."""


class SchemaVersionError(MetadataError):
    """The metadata is a known but unsupported version (e.g. the original ReasonVOS schema)."""


class MissingFileError(InputError):
    """A file or folder the metadata refers to does not exist."""


class MaskError(InputError):
    """A mask (PNG or RLE) does not decode, or has the wrong size, mode or values."""


class PredictionError(InputError):
    """A prediction folder is incomplete or holds masks that cannot be scored."""


class DownloadError(InputError):
    """A download failed, or a downloaded file does not match its published size or checksum."""


class UnsafeArchiveError(InputError):
    """An archive holds entries that would escape the target folder or are absurdly large."""
