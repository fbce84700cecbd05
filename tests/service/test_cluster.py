"""Scale beyond one process: `logad detect --engine ray` gives the CSV of one process, and
instances split by source (`--shard I/N`, each with its own state) together give the alarms of
`logad detect` run per source."""

from __future__ import annotations

import pytest

from logad.cli import main
from tests.service.conftest import all_alarms, as_tuples, detect_alarms, hdfs_lines, send_file, write


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("grouping", ["session", "entity", "count"])
def test_detect_engine_ray_writes_the_same_csv(data, tmp_path, ray_local, grouping):
    model = data["models"][grouping]
    lines = data["logs"][grouping].read_text().split("\n")[:-1]
    third = len(lines) // 3
    files = [str(write(tmp_path / f"part{i}.log", lines[i * third:(i + 1) * third if i < 2 else None]))
             for i in range(3)]  # sessions span the files
    one, many = tmp_path / "one.csv", tmp_path / "ray.csv"
    assert main(["detect", *files, "--model", str(model), "--out", str(one), "--quiet"]) == 0
    assert main(["detect", *files, "--model", str(model), "--out", str(many), "--quiet", "--engine", "ray"]) == 0
    assert many.read_text() == one.read_text()
    import csv

    assert sum(1 for row in csv.DictReader(one.open()) if row["alarm"] == "1") >= 1


def test_engine_ray_refuses_structured_models(data, tmp_path):
    from logad.errors import InvalidParameterError
    from logad.model import TrainedModel
    from logad.service.cluster import detect_on_ray

    m = TrainedModel.load(data["models"]["session"])
    m.parser = None  # what a model of structured CSVs looks like
    with pytest.raises(InvalidParameterError, match="raw log files"):
        detect_on_ray(m, data["models"]["session"], [], tmp_path / "o.csv")


def test_instances_split_the_work_by_source(data, serve, tmp_path):
    from logad.service import shard_of

    model = data["models"]["session"]
    # two sources (say two clusters' HDFS logs), chosen to fall in different shards of 2
    names = [f"cluster-{k}" for k in range(10)]
    a = next(n for n in names if shard_of(n, 2) == 0)
    b = next(n for n in names if shard_of(n, 2) == 1)
    files = {a: data["hdfs_new"], b: write(tmp_path / "b.log", hdfs_lines(40, 11, anomalous=0.3, start=7000))}
    r0, c0 = serve(model, tmp_path / "state0", shard="0/2")
    r1, c1 = serve(model, tmp_path / "state1", shard="1/2")
    for source, path in files.items():
        client = c0 if shard_of(source, 2) == 0 else c1
        send_file(client, path, source=source)
    # a misrouted source is refused with 421 and names its shard
    wrong = c1.post("/v1/lines", params={"source": a}, content=files[a].read_text().split("\n")[0] + "\n",
                    headers={"content-type": "text/plain"})
    assert wrong.status_code == 421 and "shard 0/2" in wrong.json()["error"]
    for c in (c0, c1):
        c.post("/v1/flush")
    assert as_tuples(all_alarms(c0, kind="sequence")) == detect_alarms(model, [files[a]], tmp_path / "a.csv")
    assert as_tuples(all_alarms(c1, kind="sequence")) == detect_alarms(model, [files[b]], tmp_path / "b.csv")
