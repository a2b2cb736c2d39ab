"""The ReasonVOS loader reads the current schema and refuses the original one."""

import pytest
from writers.reasonvos import default_videos, write_reasonvos, write_reasonvos_original_schema

import reasonvos
from reasonvos.errors import SchemaVersionError


def test_loads_samples_with_opaque_ids_and_kinds(tmp_path):
    write_reasonvos(tmp_path)
    bench = reasonvos.load_benchmark("reasonvos", tmp_path)
    assert len(bench.videos) == 3 and len(bench.samples) == 6
    vip = [s for s in bench.samples if s.source == "vipseg"]
    assert vip[0].obj_ids == ("000006101",)
    assert str(bench.prediction_path(vip[0], "00000001")) == "vipseg_127_-hIVCYO4C90_000006101/0/00000001.png"
    assert {s.kind for s in bench.samples} == {"short", "long"}
    v = default_videos()[0]
    s0 = bench.samples[0]
    assert list(bench.scored_frames(s0)) == v.frames
    assert (bench.gt_mask(s0, "00002") == v.objects["0"][2]).all()


def test_original_schema_is_refused_with_the_new_drive_id(tmp_path):
    write_reasonvos_original_schema(tmp_path)
    with pytest.raises(SchemaVersionError, match="1QMggGR91AE-iUUub5YwzMYiFt0TeV5_8"):
        reasonvos.load_benchmark("reasonvos", tmp_path)
