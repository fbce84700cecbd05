"""The registry of public log datasets: where to download them, their checksums, their layout.

A local copy (`--data-dir`) must have the layout of the download: the files in `layout` (a
`.gz` variant of a plain file is accepted). Checksums are the ones the host publishes (Zenodo
shows an md5 per file); where none is published, `fetch` refuses unless told to accept the
file unverified, and prints the sha256 it computed so the user can pin it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from logad.errors import unknown_name

ZENODO = "https://zenodo.org/records/8196385/files"  # LogHub (He et al., ISSRE'23 / loghub)
LOGHUB_RAW = "https://raw.githubusercontent.com/logpai/loghub/master"
CFDR = "http://0b4af6cdc2f0c5998459-c0245c5c937c5dedcca3f1764ecc9b2f.r43.cf2.rackcdn.com/hpc4"
DEEPLOG_SESSIONS = "https://raw.githubusercontent.com/wuyifan18/DeepLog/master/data"
AIT_SESSIONS = "https://raw.githubusercontent.com/ait-aecid/anomaly-detection-log-datasets/main"


@dataclass(frozen=True)
class RemoteFile:
    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None
    archive: bool = False  # unpack into the dataset folder after verification
    optional: bool = False  # not needed for detection (e.g. template texts): a failed download warns


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    kind: str  # "raw" (raw log + labels), "sessions" (DeepLog-style files), "parsing" (loghub 2k)
    format: str
    files: tuple[RemoteFile, ...]
    layout: tuple[tuple[str, ...], ...]  # each entry: accepted relative paths for one required file
    session_regex: str | None = None
    # "line" (CFDR first field), "block_csv", "files", "templates", "text_windows", "applications" (Hadoop's
    # abnormal_label.txt: failed and normal applications by name), "id_list" (a file listing anomalous session ids)
    labels: str = "none"
    templates: str | None = None  # session files: the template texts file (line k = template id k)
    # raw logs spread over many files: a glob under the folder (else the layout's first entry is the log)
    log_glob: str | tuple[str, ...] | None = None
    grouping: dict | None = None  # the dataset's natural unit when it is not the format's default
    label_ids: str | None = None  # "id_list" labels: the regex of an id in the labels file
    generic: bool = False  # a layout for a user's own data, resolved against the folder (datasets.local)
    citation: str = "LogHub: He et al., Loghub: A Large Collection of System Log Datasets, ISSRE 2023"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _loghub_2k(system: str, fmt: str) -> DatasetInfo:
    base = f"{LOGHUB_RAW}/{system}/{system}_2k.log"
    return DatasetInfo(
        name=f"loghub-2k-{system.lower()}",
        description=f"LogHub {system} 2k sample with parsing ground truth (structured CSV, templates)",
        kind="parsing",
        format=fmt,
        files=(
            RemoteFile(base, f"{system}/{system}_2k.log"),
            RemoteFile(f"{base}_structured.csv", f"{system}/{system}_2k.log_structured.csv"),
            RemoteFile(f"{base}_templates.csv", f"{system}/{system}_2k.log_templates.csv"),
        ),
        layout=((f"{system}/{system}_2k.log", f"{system}_2k.log"), (f"{system}/{system}_2k.log_structured.csv", f"{system}_2k.log_structured.csv")),
        labels="templates",
    )


LOGHUB_2K_SYSTEMS = {
    "Android": "android", "Apache": "apache", "BGL": "bgl", "HDFS": "hdfs", "HPC": "hpc", "Hadoop": "hadoop",
    "HealthApp": "healthapp", "Linux": "linux", "Mac": "mac", "OpenSSH": "openssh", "OpenStack": "openstack",
    "Proxifier": "proxifier", "Spark": "spark", "Thunderbird": "thunderbird", "Windows": "windows",
    "Zookeeper": "zookeeper",
}

_DATASETS: list[DatasetInfo] = [
    DatasetInfo(
        "hdfs", "HDFS_v1: 11.2M lines of a Hadoop cluster, 575k blocks labelled (16,838 anomalous)", "raw", "hdfs",
        (RemoteFile(f"{ZENODO}/HDFS_v1.zip?download=1", "HDFS_v1.zip", md5="76a24b4d9a6164d543fb275f89773260", archive=True),),
        (("HDFS.log", "HDFS.log.gz"), ("anomaly_label.csv", "preprocessed/anomaly_label.csv")),
        session_regex=r"(blk_-?\d+)", labels="block_csv",
    ),
    DatasetInfo(
        "bgl", "Blue Gene/L: 4.7M lines, alert lines labelled in the first field", "raw", "bgl",
        (RemoteFile(f"{ZENODO}/BGL.zip?download=1", "BGL.zip", md5="4452953c470f2d95fcb32d5f6e733f7a", archive=True),),
        (("BGL.log", "BGL.log.gz"),), labels="line",
    ),
    DatasetInfo(
        "thunderbird", "Thunderbird: 211M lines (LogHub copy), alert lines labelled in the first field", "raw", "thunderbird",
        (RemoteFile(f"{ZENODO}/Thunderbird.tar.gz?download=1", "Thunderbird.tar.gz", archive=True),),
        (("Thunderbird.log", "Thunderbird.log.gz"),), labels="line",
    ),
    DatasetInfo(
        "spirit", "Spirit (CFDR): 272M lines, alert lines labelled in the first field", "raw", "spirit",
        (RemoteFile(f"{CFDR}/spirit2.gz", "Spirit.log.gz"),),
        (("Spirit.log", "Spirit.log.gz", "spirit2", "spirit2.gz"),), labels="line",
        citation="CFDR: Oliner & Stearley, What Supercomputers Say, DSN 2007",
    ),
    DatasetInfo(
        "liberty", "Liberty (CFDR): 265M lines, alert lines labelled in the first field", "raw", "liberty",
        (RemoteFile(f"{CFDR}/liberty2.gz", "Liberty.log.gz"),),
        (("Liberty.log", "Liberty.log.gz", "liberty2", "liberty2.gz"),), labels="line",
        citation="CFDR: Oliner & Stearley, What Supercomputers Say, DSN 2007",
    ),
    DatasetInfo(
        "hadoop", "Hadoop MapReduce jobs with injected failures: one log per container, labels per application "
        "(abnormal_label.txt); one sequence per container", "raw", "hadoop",
        (RemoteFile(f"{ZENODO}/Hadoop.zip?download=1", "Hadoop.zip", archive=True),),
        (("abnormal_label.txt",),), labels="applications", log_glob="application_*/**/*.log",
        grouping={"kind": "file"},
    ),
    DatasetInfo(
        "openstack", "OpenStack nova logs, normal and abnormal VM runs", "raw", "openstack",
        (RemoteFile(f"{ZENODO}/OpenStack.tar.gz?download=1", "OpenStack.tar.gz", archive=True),),
        (("openstack_normal1.log", "openstack_normal1.log.gz"), ("anomaly_labels.txt",)),
        session_regex=r"instance: ([0-9a-f-]{36})", labels="id_list", log_glob="openstack_*.log*",
        label_ids=r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ),
    DatasetInfo(
        "hdfs-sessions", "HDFS block sessions as template-id sequences (DeepLog-style files)", "sessions", "hdfs",
        (
            RemoteFile(f"{DEEPLOG_SESSIONS}/hdfs_train", "hdfs_train"),
            RemoteFile(f"{DEEPLOG_SESSIONS}/hdfs_test_normal", "hdfs_test_normal"),
            RemoteFile(f"{DEEPLOG_SESSIONS}/hdfs_test_abnormal", "hdfs_test_abnormal"),
            RemoteFile(f"{AIT_SESSIONS}/templates/HDFS_templates.csv", "HDFS_templates.csv",
                       sha256="ba74dd0799eb3a807d7c1152b53e6fd2a4acc7df4d8a930309c68a01778643cb", optional=True),
        ),
        (("hdfs_train",), ("hdfs_test_normal",), ("hdfs_test_abnormal",)), labels="files",
        templates="HDFS_templates.csv",
        citation="Du et al., DeepLog, CCS 2017; session files as published with DeepLog reimplementations",
    ),
    DatasetInfo(
        "openstack-sessions", "OpenStack VM-instance sessions as template-id sequences (corrected labels)", "sessions", "openstack",
        (
            RemoteFile(f"{AIT_SESSIONS}/openstack_parisakalaki/openstack_train", "openstack_train",
                       sha256="882fde5f9ee88fc6c04bda5d16cb181b501918698915ace1a657d50036ffd518"),
            RemoteFile(f"{AIT_SESSIONS}/openstack_parisakalaki/openstack_test_normal", "openstack_test_normal",
                       sha256="9fd7c4dc982879a62dfe96e3eacb88f9ca58f60bf63e840e9db127302447c000"),
            RemoteFile(f"{AIT_SESSIONS}/openstack_parisakalaki/openstack_test_abnormal", "openstack_test_abnormal",
                       sha256="031f6dfc48fe54ab596b4cb84f556b5f96b2c3803aabd2d6389e754577d72666"),
            RemoteFile(f"{AIT_SESSIONS}/templates/OpenStack_templates.csv", "OpenStack_templates.csv",
                       sha256="cbd4f2c49463cde9ebf9d0edd83e5901e7a1976e9ce5a611a1da82aa2903f501", optional=True),
        ),
        (("openstack_train",), ("openstack_test_normal",), ("openstack_test_abnormal",)), labels="files",
        templates="OpenStack_templates.csv",
        citation="Landauer et al., AIT anomaly-detection-log-datasets (GPL-3.0); labels corrected by P. Kalaki",
    ),
    DatasetInfo(
        "openstack-sessions-loghub", "OpenStack VM-instance sessions as template-id sequences (LogHub's labels)",
        "sessions", "openstack",
        (
            RemoteFile(f"{AIT_SESSIONS}/openstack_loghub/openstack_train", "openstack_train"),
            RemoteFile(f"{AIT_SESSIONS}/openstack_loghub/openstack_test_normal", "openstack_test_normal"),
            RemoteFile(f"{AIT_SESSIONS}/openstack_loghub/openstack_test_abnormal", "openstack_test_abnormal"),
            RemoteFile(f"{AIT_SESSIONS}/templates/OpenStack_templates.csv", "OpenStack_templates.csv",
                       sha256="cbd4f2c49463cde9ebf9d0edd83e5901e7a1976e9ce5a611a1da82aa2903f501", optional=True),
        ),
        (("openstack_train",), ("openstack_test_normal",), ("openstack_test_abnormal",)), labels="files",
        templates="OpenStack_templates.csv",
        citation="Landauer et al., AIT anomaly-detection-log-datasets (GPL-3.0)",
    ),
    DatasetInfo(
        "bgl-text-windows", "BGL message windows (100 messages joined by ' ;-; ', per-message labels); no public "
        "source known: point --data-dir at a local copy", "text-windows", "bgl",
        (),
        (("BGL_windows25.csv", "BGL_windows25.csv.gz"),), labels="text_windows",
        citation="LogHub BGL (He et al., ISSRE 2023); CFDR (Oliner & Stearley, DSN 2007)",
    ),
    # a user's own data in one of three layouts; the folder says the rest (datasets/local.py)
    DatasetInfo(
        "sessions", "your own session files: a folder with NAME_train, NAME_test_normal, NAME_test_abnormal "
        "(one session per line: 'id,key key ...' or 'key key ...') and optionally NAME_templates.csv", "sessions",
        "custom", (), (), labels="files", generic=True, citation="",
    ),
    DatasetInfo(
        "labelled-logs", "your own raw logs: a folder with a dataset.toml naming their format, files and labels "
        "(see `logad data info labelled-logs`)", "raw", "custom", (), (), labels="block_csv", generic=True,
        citation="",
    ),
    DatasetInfo(
        "text-windows", "your own stored windows of messages: a CSV with Content (messages joined by ' ;-; ') and "
        "item_Label (a JSON list of 0/1 per message), LogLLM style; --data-dir names the file or its folder",
        "text-windows", "custom", (), (), labels="text_windows", generic=True, citation="",
    ),
] + [_loghub_2k(system, fmt) for system, fmt in LOGHUB_2K_SYSTEMS.items()]

DATASETS: dict[str, DatasetInfo] = {d.name: d for d in _DATASETS}


def list_datasets() -> list[str]:
    return list(DATASETS)


OWN_DATA_HINT = (
    "for your own data: --dataset sessions --data-dir DIR (NAME_train, NAME_test_normal, NAME_test_abnormal files), "
    "--dataset labelled-logs --data-dir DIR (raw logs with a dataset.toml), --dataset text-windows --data-dir CSV, "
    "or --logs FILE... --format FORMAT --labels LABELS.csv"
)


def get_dataset(name: str) -> DatasetInfo:
    key = (name or "").strip().lower().replace("_", "-")
    if key in DATASETS:
        return DATASETS[key]
    err = unknown_name("dataset", name, list(DATASETS))
    raise type(err)(f"{err}; {OWN_DATA_HINT}")
