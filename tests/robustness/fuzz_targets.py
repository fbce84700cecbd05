"""What the fuzzing of issue 17 throws at logad's readers, shared by the short test
(tests/robustness/test_fuzz.py) and the long run (benchmarks/fuzz_inputs.py).

Each target takes bytes (arbitrary, or a valid file mutated) and must either succeed or raise one
of logad's own errors (LogadError): no other exception, no hang (each call runs under an alarm),
and memory bounded (the caller checks the peak).
"""

from __future__ import annotations

import json
import random
import signal
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from logad.errors import LogadError

SECONDS_PER_CALL = 5


class Hang(Exception):
    pass


@contextmanager
def bounded(seconds: int = SECONDS_PER_CALL):
    def on_alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# -- valid seeds that the mutations start from --------------------------------------------------------
HDFS_LINES = (
    b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating\n"
    b"081109 203807 222 INFO dfs.DataNode$PacketResponder: Received block blk_-6952295868487656571 of size 67108864\n"
    b"081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010\n"
)
BGL_LINES = (
    b"- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO "
    b"instruction cache parity error corrected\n"
    b"APPREAD 1117869872 2005.06.04 R04-M1-N4-I:J18-U11 2005-06-04-00.24.32.432192 R04-M1-N4-I:J18-U11 RAS APP FATAL "
    b"ciod: failed to read message prefix on control stream\n"
)
LABELS = b"BlockId,Label\nblk_38865049064139660,Normal\nblk_-6952295868487656571,Anomaly\n"
SESSIONS = b"s1,1 2 3 4\ns2,1 2 2 3\n5 6 7\n"
APPLICATIONS = b"WordCount:\nNormal:\n+ application_1445087491445_0005\nMachine down:\n+ application_1445087491445_0007\n"


def mutate(seed: bytes, rng: random.Random) -> bytes:
    """A valid file with a few random edits: flipped, inserted, deleted or repeated bytes."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(data) + 1)
        if op < 0.3 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op < 0.55:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op < 0.8 and data:
            del data[pos:pos + rng.randint(1, 16)]
        else:  # repeat a slice (long lines, many fields)
            a = rng.randrange(len(data) + 1)
            data[pos:pos] = bytes(data[a:a + rng.randint(1, 64)]) * rng.randint(2, 50)
    return bytes(data)


def mutate_json(doc, rng: random.Random, depth: int = 0):
    """A JSON document with a random part replaced by another type, dropped, or deeply nested."""
    choices = [None, True, -1, 0, 1, 2**63, 1e308, float("nan"), "", "x" * 100, [], {}, [[1, 2], [2, 1]]]
    if isinstance(doc, dict) and doc and depth < 6:
        doc = dict(doc)
        key = rng.choice(list(doc))
        r = rng.random()
        if r < 0.25:
            del doc[key]
        elif r < 0.6:
            doc[key] = mutate_json(doc[key], rng, depth + 1)
        else:
            doc[key] = rng.choice(choices)
        return doc
    if isinstance(doc, list) and doc and depth < 6:
        doc = list(doc)
        i = rng.randrange(len(doc))
        doc[i] = mutate_json(doc[i], rng, depth + 1) if rng.random() < 0.6 else rng.choice(choices)
        return doc
    return rng.choice(choices)


# -- targets ----------------------------------------------------------------------------------------
def read_log(data: bytes, folder: Path, fmt: str = "hdfs") -> None:
    from logad.formats.reader import ReadReport, read_records
    from logad.formats.registry import get_format

    path = _file(folder, "fuzz.log", data)
    report = ReadReport(path=str(path))
    for _ in read_records(path, get_format(fmt), report=report):
        pass


def load_parser_state(data: bytes, folder: Path) -> None:
    from logad.parsing import load_parser

    load_parser(_file(folder, "state.json", data))


def read_labels(data: bytes, folder: Path) -> None:
    from logad.formats.labels import read_application_labels, read_block_labels, read_session_file

    path = _file(folder, "labels.csv", data)
    for reader in (read_block_labels, lambda p: list(read_session_file(p)), read_application_labels):
        try:
            reader(path)
        except LogadError:
            pass


def model_folder(folder: Path) -> Path:
    """A small trained model to tamper with (made once per run)."""
    from logad.cli import main
    from logad.demo.simulator import simulate_all

    model = folder / "model"
    if not model.exists():
        log = simulate_all(folder / "sim", scale=0.1, seed=5)["compute"].log_path
        assert main(["train", "--logs", str(log), "--format", "bgl", "--detector", "knn", "--save", str(model),
                     "--quiet"]) == 0
    return model


def load_tampered_model(data: bytes, folder: Path, which: str) -> None:
    """`which` file of a real model folder replaced by `data`, then the folder loaded."""
    import shutil

    from logad.model import TrainedModel

    base = model_folder(folder)
    work = folder / "tampered"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(base, work)
    (work / which).write_bytes(data)
    TrainedModel.load(work)


TARGETS: dict[str, tuple[Callable, bytes]] = {
    "log reader (hdfs)": (lambda d, f: read_log(d, f, "hdfs"), HDFS_LINES),
    "log reader (bgl)": (lambda d, f: read_log(d, f, "bgl"), BGL_LINES),
    "log reader (format string)": (lambda d, f: read_log(d, f, "<Date> <Time> <Level> \\[<Thread>\\] <Content>"),
                                   HDFS_LINES),
    "label readers": (read_labels, LABELS + SESSIONS + APPLICATIONS),
}


def seed_state(folder: Path) -> bytes:
    return (model_folder(folder) / "parser.json").read_bytes()


def json_targets(folder: Path) -> dict[str, tuple[Callable, bytes]]:
    """Targets whose seed is a JSON file of a real model (mutated as JSON and as bytes)."""
    model = model_folder(folder)
    return {
        "parser state": (load_parser_state, (model / "parser.json").read_bytes()),
        "model.json": (lambda d, f: load_tampered_model(d, f, "model.json"), (model / "model.json").read_bytes()),
        "detector config": (lambda d, f: load_tampered_model(d, f, "detector/config.json"),
                            (model / "detector" / "config.json").read_bytes()),
    }


def example(seed: bytes, rng: random.Random) -> bytes:
    """One input: arbitrary bytes, a byte-mutated seed, or (for JSON seeds) a structurally mutated one."""
    r = rng.random()
    if r < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
    if r < 0.55 or not seed.lstrip().startswith((b"{", b"[")):
        return mutate(seed, rng)
    doc = json.loads(seed)
    if rng.random() < 0.05:
        return b"[" * 100_000 + b"]" * 100_000
    return json.dumps(mutate_json(doc, rng)).encode()


def inputs(seed: bytes):
    """The hypothesis strategy of one target's inputs (see `example`)."""
    from hypothesis import strategies as st

    return st.one_of(st.binary(max_size=4000), st.builds(example, st.just(seed), st.randoms(use_true_random=False)))


def run_one(target: Callable, data: bytes, folder: Path) -> str | None:
    """None when the target behaved (success or a LogadError); else what went wrong."""
    try:
        with bounded():
            target(data, folder)
    except LogadError:
        return None
    except Hang as exc:
        return f"hang: {exc}"
    except Exception as exc:  # noqa: BLE001 - the point: anything else is a finding
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def fresh_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="logad-fuzz-"))
