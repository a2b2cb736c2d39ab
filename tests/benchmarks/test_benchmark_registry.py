"""The benchmark registry: one declaration per benchmark, found by name, extended by plugins."""

from __future__ import annotations

import dataclasses

import pytest
from plugins import fake_distribution
from reasonvos.leaderboard import reported, store, tables

from reasonvos.benchmarks import registry
from reasonvos.errors import InputError


@pytest.fixture(autouse=True)
def fresh_registry():
    """Each test starts from (and leaves) the built-ins and installed entry points only."""
    registry.reset()
    yield
    registry.reset()


def test_an_unknown_name_is_an_input_error_that_lists_the_known_ones():
    with pytest.raises(InputError) as e:
        registry.get("mevis2")
    assert all(name in str(e.value) for name in registry.names())
    assert registry.find("mevis2") is None


def test_a_second_benchmark_under_a_taken_name_is_refused():
    mevis = registry.get("mevis")
    other = dataclasses.replace(mevis, display_name="Not MeViS")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(other)
    assert registry.get("mevis") is mevis
    registry.register(mevis)  # the same declaration again is harmless (a module imported twice)
    registry.register(other, replace=True)
    assert registry.get("mevis").display_name == "Not MeViS"
    with pytest.raises(TypeError, match="BenchmarkSpec"):
        registry.register("mevis")


def test_entry_points_are_discovered_and_cannot_shadow_a_builtin(tmp_path, monkeypatch):
    fake_distribution(tmp_path, {"tinymask": "plugins.tinymask", "shadow": "plugins.shadow:SPEC"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="'mevis', which is already registered"):
        names = registry.names()
    assert names[:5] == ("reasonvos", "mevis", "refytvos", "refdavis", "davis") and "tinymask" in names
    assert registry.get("mevis").display_name == "MeViS"  # the built-in stays


def test_an_entry_point_without_a_spec_names_itself(tmp_path, monkeypatch):
    fake_distribution(tmp_path, {"broken": "plugins"})  # a module, but no SPEC in it
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match="entry point 'broken'.*no BenchmarkSpec"):
        registry.names()


def test_names_the_registry_does_not_know_keep_their_split_and_sort_after(tmp_path):
    """A paper's image benchmark (reported numbers only) is shown as it is, after the video ones."""
    assert store.canonical_split("reasonvos", "test") == "all"  # the spec's table name
    assert store.canonical_split("refcoco", "testA") == "testA"
    assert reported.toolkit_name("Ref-DAVIS-17") == "refdavis" and reported.toolkit_name("refCOCO+") == "refcoco+"
    assert reported.display_name("refcoco+") == "refCOCO+"
    rows = [store.Entry("M", bench, split, {"J&F": 0.5}, origin="reported")
            for bench, split in (("refcoco", "val"), ("davis", None), ("mevis", "valid"))]
    assert [t.benchmark for t in tables.build_tables(rows)] == ["mevis", "davis", "refcoco"]
