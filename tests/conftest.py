"""Shared fixtures. Fixture *writers* (datasets in each benchmark's exact format) live in writers/."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread (and CI has two cores). Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``; torch is imported only here."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
