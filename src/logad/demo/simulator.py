"""Built-in log simulator for `logad demo`: realistic raw logs with injected failures and ground truth.

Two systems are simulated, each written in the exact layout of a public LogHub download so the rest of
the pipeline (reader, Drain parser, grouping, split, detectors) runs unchanged on them:

* a small distributed storage system (HDFS layout): ``HDFS.log`` with lines such as
  ``081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660
  terminating`` plus ``anomaly_label.csv`` (``BlockId,Label`` with ``Normal``/``Anomaly``);
* a cluster of compute nodes (BGL layout): ``BGL.log`` with lines such as
  ``- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL
  INFO instruction cache parity error corrected``, the first field being ``-`` for normal lines or an
  alert category (``KERNDTLB``, ``APPREAD``...) for anomalous ones.

Anomalies are detectable but not trivial: part of the anomalous storage blocks only differ from normal
ones by a missing step or an unusual count of a common event, some normal blocks contain rare-but-normal
events, and compute failures are sometimes preceded by warning precursors that stay labelled normal.

Everything is driven by one ``random.Random(seed)`` per system, so output files are byte-identical for
the same arguments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = [
    "FailureEpisode",
    "SimulatedLog",
    "simulate_all",
    "simulate_compute_cluster",
    "simulate_storage_cluster",
]

# --------------------------------------------------------------------------------------------------
# public data types
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureEpisode:
    """One injected failure of the compute cluster: alert lines of ``category`` on ``nodes``."""

    category: str
    nodes: tuple[str, ...]
    start: float  # unix seconds of the first alert line
    end: float  # unix seconds of the last alert line
    n_alert_lines: int
    n_precursor_lines: int


@dataclass
class SimulatedLog:
    """What a simulator wrote, and the ground truth.

    ``truth`` maps block id -> 0/1 for the storage (HDFS) log; it is ``None`` for the compute (BGL)
    log, whose labels are in the first field of every line. ``n_anomalous_sequences`` counts anomalous
    blocks (HDFS, ``None`` for BGL); ``n_anomalous_lines`` counts lines of anomalous blocks (HDFS) or
    alert lines (BGL).
    """

    name: str
    directory: Path
    log_path: Path
    format: str
    n_lines: int
    n_anomalous_lines: int
    n_anomalous_sequences: int | None = None
    n_sequences: int | None = None
    truth: dict[str, int] | None = None
    label_path: Path | None = None
    anomaly_kinds: dict[str, int] = field(default_factory=dict)
    episodes: list[FailureEpisode] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# storage cluster (HDFS layout)
# --------------------------------------------------------------------------------------------------

_FULL_BLOCK = 67108864
_C_NS = "dfs.FSNamesystem"
_C_XC = "dfs.DataNode$DataXceiver"
_C_PR = "dfs.DataNode$PacketResponder"
_C_BR = "dfs.DataNode$BlockReceiver"
_C_DN = "dfs.DataNode"
_C_DT = "dfs.DataNode$DataTransfer"
_C_FS = "dfs.FSDataset"
_C_SC = "dfs.DataBlockScanner"
_C_PRM = "dfs.PendingReplicationMonitor"

# anomaly kind -> weight; the first three change only counts/steps, not templates
_STORAGE_ANOMALIES: dict[str, float] = {
    "missing_step": 0.20,
    "stalled_write": 0.10,
    "double_delete": 0.08,
    "write_exception": 0.28,
    "redundant_addstored": 0.10,
    "delete_error": 0.12,
    "failed_transfer": 0.12,
}

_WRITE_EXCEPTIONS = [
    "java.io.IOException: Could not read from stream",
    "java.io.IOException: Connection reset by peer",
    "java.io.InterruptedIOException: Interruped while waiting for IO on channel java.nio.channels.SocketChannel"
    "[connected local=/{local}:50010 remote=/{remote}:{port}]. 0 millis timeout left.",
    "java.net.SocketTimeoutException: 63000 millis timeout while waiting for channel to be ready for read. "
    "ch : java.nio.channels.SocketChannel[connected local=/{local}:50010 remote=/{remote}:{port}]",
]
_RESPONDER_EXCEPTIONS = [
    "java.io.EOFException",
    "java.io.IOException: Connection reset by peer",
    "java.io.IOException: Broken pipe",
    "java.net.SocketTimeoutException: 66000 millis timeout while waiting for channel to be ready for read. "
    "ch : java.nio.channels.SocketChannel[connected local=/{local}:{port} remote=/{remote}:50010]",
]

_Event = tuple[float, int, str, str, str]  # time offset (s), pid, level, component, content


class _HdfsCluster:
    """Random but consistent cluster facts: datanode addresses, jobs, paths."""

    def __init__(self, rng: random.Random, start: datetime, n_datanodes: int = 48) -> None:
        self.rng = rng
        ips: set[str] = set()
        while len(ips) < n_datanodes:
            ips.add(f"10.{rng.choice((250, 251))}.{rng.randint(2, 254)}.{rng.randint(2, 254)}")
        self.datanodes = sorted(ips)
        stamp = start.strftime("%Y%m%d%H%M")
        self.jobs = [f"{stamp}_{i:04d}" for i in range(1, 40)]

    def port(self) -> int:
        return self.rng.randint(32768, 60999)

    def ns_pid(self) -> int:
        return self.rng.randint(13, 35)

    def dn_pid(self, t: float) -> int:
        # datanode thread ids grow slowly over the run, like the real log
        return 140 + int(t // 40) % 5000 + self.rng.randint(0, 60)

    def path(self) -> str:
        rng = self.rng
        r = rng.random()
        job = rng.choice(self.jobs)
        if r < 0.02:
            return f"/mnt/hadoop/mapred/system/job_{job}/job.{rng.choice(('jar', 'split', 'xml'))}."
        if r < 0.04:
            host = "-".join(str(rng.randint(1, 254)) for _ in range(4))
            return f"/user/root/rand/_logs/history/ip-{host}.ec2.internal_{job}_conf.xml."
        part = rng.randint(0, 1999)
        kind, prefix = ("m", "rand") if r < 0.75 else ("r", "sortrand")
        return f"/user/root/{prefix}/_temporary/_task_{job}_{kind}_{part:06d}_{rng.randint(0, 2)}/part-{part:05d}."

    def size(self) -> int:
        if self.rng.random() < 0.62:
            return _FULL_BLOCK
        return self.rng.randint(2048, _FULL_BLOCK - 1)


def _block_id(rng: random.Random, used: set[str]) -> str:
    while True:
        bid = f"blk_{rng.getrandbits(64) - (1 << 63)}"
        if bid not in used:
            used.add(bid)
            return bid


def _block_events(c: _HdfsCluster, blk: str, t0: float, kind: str) -> list[_Event]:
    """All events of one block's life; ``kind`` is 'normal', 'rare_normal' or an anomaly kind."""
    rng = c.rng
    ev: list[_Event] = []

    def ns(t: float, content: str, level: str = "INFO") -> None:
        ev.append((t, c.ns_pid(), level, _C_NS, content))

    def dn(t: float, comp: str, content: str, level: str = "INFO") -> None:
        ev.append((t, c.dn_pid(t), level, comp, content))

    r = 3 if rng.random() < 0.8 else 2
    if kind == "missing_step" or kind == "stalled_write":
        r = 3 if rng.random() < 0.6 else r
    nodes = rng.sample(c.datanodes, r)
    size = c.size()
    client = nodes[0] if rng.random() < 0.85 else rng.choice(c.datanodes)

    # allocation and the write pipeline
    ns(t0, f"BLOCK* NameSystem.allocateBlock: {c.path()} {blk}")
    t_recv = [t0 + rng.uniform(0.05, 1.2) + i * rng.uniform(0.0, 0.4) for i in range(r)]
    for i, node in enumerate(nodes):
        src = client if i == 0 else nodes[i - 1]
        dn(t_recv[i], _C_XC, f"Receiving block {blk} src: /{src}:{c.port()} dest: /{node}:50010")
    t_end = max(t_recv) + size / rng.uniform(6e6, 30e6) + rng.uniform(0.1, 2.0)

    failed: int | None = None  # index of a replica whose write fails
    if kind == "write_exception":
        failed = rng.randrange(r)
        tf = rng.uniform(max(t_recv), t_end)
        node = nodes[failed]
        up = client if failed == 0 else nodes[failed - 1]
        msgs = rng.sample(["writeBlock", "responder", "receive", "mirror", "interrupted"], rng.randint(1, 3))
        for j, m in enumerate(msgs):
            tj = tf + j * rng.uniform(0.0, 1.5)
            if m == "writeBlock":
                exc = rng.choice(_WRITE_EXCEPTIONS).format(local=node, remote=up, port=c.port())
                dn(tj, _C_XC, f"writeBlock {blk} received exception {exc}")
            elif m == "responder":
                exc = rng.choice(_RESPONDER_EXCEPTIONS).format(local=node, remote=up, port=c.port())
                dn(tj, _C_PR, f"PacketResponder {blk} {r - 1 - failed} Exception {exc}")
            elif m == "receive":
                exc = rng.choice(_WRITE_EXCEPTIONS[:2])
                dn(tj, _C_BR, f"Exception in receiveBlock for block {blk} {exc}")
            elif m == "mirror" and failed + 1 < r:
                dn(tj, _C_XC, f"{node}:50010:Exception writing block {blk} to mirror {nodes[failed + 1]}:50010")
            else:
                dn(tj, _C_PR, f"PacketResponder {r - 1 - failed} for block {blk} Interrupted.")
        if rng.random() < 0.4:
            dn(tf + rng.uniform(0.0, 1.0), _C_BR, f"Receiving empty packet for block {blk}")

    stalled = kind == "stalled_write"
    skip_received: int | None = None
    skip_terminate: int | None = None
    if kind == "missing_step":
        if rng.random() < 0.6:
            skip_received = rng.randrange(r)
        else:
            skip_terminate = rng.randrange(r)

    stored: list[str] = []
    if stalled:
        # receivers were opened but the write never completes on at least one replica
        done = rng.randrange(r)  # replicas that still complete
        for i in range(r - 1, r - 1 - done, -1):
            te = t_end + rng.uniform(0.0, 0.5)
            dn(te, _C_PR, f"PacketResponder {r - 1 - i} for block {blk} terminating")
        if rng.random() < 0.5:
            ev.append((t_end + rng.uniform(300, 900), rng.randint(13, 35), "WARN", _C_PRM,
                       f"PendingReplicationMonitor timed out block {blk}"))
        return ev

    for i in range(r - 1, -1, -1):
        if i == failed:
            continue
        node = nodes[i]
        up = client if i == 0 else nodes[i - 1]
        te = t_end + (r - 1 - i) * rng.uniform(0.0, 0.3) + rng.uniform(0.0, 0.2)
        if i != skip_terminate:
            dn(te, _C_PR, f"PacketResponder {r - 1 - i} for block {blk} terminating")
        if i != skip_received:
            dn(te + rng.uniform(0.0, 0.05), _C_PR, f"Received block {blk} of size {size} from /{up}")
            ns(te + rng.uniform(0.05, 0.6), f"BLOCK* NameSystem.addStoredBlock: blockMap updated: "
                                             f"{node}:50010 is added to {blk} size {size}")
            stored.append(node)

    if kind == "redundant_addstored":
        for _ in range(rng.randint(1, 2)):
            node = rng.choice(stored)
            ns(t_end + rng.uniform(1.0, 120.0), f"BLOCK* NameSystem.addStoredBlock: Redundant addStoredBlock "
                                                 f"request received for {blk} on {node}:50010 size {size}")

    # re-replication: rare but normal when it succeeds, anomalous when it fails
    if failed is not None or kind in ("rare_replicate", "failed_transfer"):
        src = rng.choice(stored) if stored else nodes[0]
        dst = rng.choice([d for d in c.datanodes if d not in nodes])
        tr = t_end + rng.uniform(2.0, 60.0)
        ns(tr, f"BLOCK* ask {src}:50010 to replicate {blk} to datanode(s) {dst}:50010")
        dn(tr + rng.uniform(1.0, 4.0), _C_DN, f"{src}:50010 Starting thread to transfer block {blk} to {dst}:50010")
        tt = tr + rng.uniform(4.0, 12.0)
        if kind == "failed_transfer":
            dn(tt, _C_DT, f"{src}:50010:Failed to transfer {blk} to {dst}:50010 got java.net.SocketException: "
                          f"{rng.choice(('Connection reset', 'Broken pipe'))}", "WARN")
            if rng.random() < 0.6:
                ev.append((tt + rng.uniform(300, 900), rng.randint(13, 35), "WARN", _C_PRM,
                           f"PendingReplicationMonitor timed out block {blk}"))
        else:
            port = c.port()
            dn(tt, _C_XC, f"Receiving block {blk} src: /{src}:{port} dest: /{dst}:50010")
            dn(tt + rng.uniform(0.5, 3.0), _C_DT, f"{src}:50010:Transmitted block {blk} to /{dst}:50010")
            dn(tt + rng.uniform(0.5, 3.0), _C_XC,
               f"Received block {blk} src: /{src}:{port} dest: /{dst}:50010 of size {size}")
            ns(tt + rng.uniform(3.0, 4.0), f"BLOCK* NameSystem.addStoredBlock: blockMap updated: "
                                            f"{dst}:50010 is added to {blk} size {size}")
            stored.append(dst)

    # reads
    n_served = rng.choices((0, 1, 2, 3, 4), weights=(45, 25, 15, 10, 5))[0]
    if kind == "rare_heavy_read":
        n_served = rng.randint(8, 16)
    for _ in range(n_served):
        node = rng.choice(stored) if stored else nodes[0]
        reader = rng.choice(c.datanodes)
        ts = t_end + rng.expovariate(1 / 900.0) + 1.0
        dn(ts, _C_XC, f"{node}:50010 Served block {blk} to /{reader}")
    if kind == "rare_serve_exception":
        node = rng.choice(stored) if stored else nodes[0]
        ts = t_end + rng.uniform(30.0, 1800.0)
        dn(ts, _C_DN, f"{node}:50010:Got exception while serving {blk} to /{rng.choice(c.datanodes)}:", "WARN")
    if rng.random() < 0.3:
        dn(t_end + rng.uniform(600.0, 7200.0), _C_SC, f"Verification succeeded for {blk}")

    # deletion
    delete = rng.random() < 0.55 or kind in ("delete_error", "double_delete")
    if delete and stored:
        td = t_end + rng.uniform(300.0, 3 * 3600.0)
        rounds = 2 if kind == "double_delete" else 1
        bad = rng.randrange(len(stored)) if kind == "delete_error" else None
        for k in range(rounds):
            tk = td + k * rng.uniform(30.0, 600.0)
            for i, node in enumerate(stored):
                ns(tk + rng.uniform(0.0, 0.5), f"BLOCK* NameSystem.delete: {blk} is added to invalidSet of {node}:50010")
                tdel = tk + rng.uniform(1.0, 40.0)
                if i == bad:
                    dn(tdel, _C_FS, f"Unexpected error trying to delete block {blk}. BlockInfo not found in volumeMap.",
                       "WARN")
                else:
                    sub = rng.randint(0, 63)
                    dn(tdel, _C_FS, f"Deleting block {blk} file /mnt/hadoop/dfs/data/current/subdir{sub}/{blk}")
        if kind == "delete_error":
            tl = td + rng.uniform(40.0, 300.0)
            if rng.random() < 0.5:
                ns(tl, f"BLOCK* Removing block {blk} from neededReplications as it does not belong to any file.")
            else:
                ns(tl, f"BLOCK* NameSystem.addStoredBlock: addStoredBlock request received for {blk} on "
                       f"{stored[0]}:50010 size {size} But it does not belong to any file.")
    return ev


def simulate_storage_cluster(
    out_dir: str | Path,
    *,
    n_blocks: int = 4000,
    anomaly_rate: float = 0.03,
    seed: int = 0,
    start: str = "2008-11-09 20:36:15",
    rare_normal_rate: float = 0.03,
) -> SimulatedLog:
    """Simulate a small HDFS-like storage system; write ``HDFS.log`` and ``anomaly_label.csv``.

    Blocks are allocated by a Poisson process (about 1.2 per second), replicated on 2-3 datanodes,
    then read, verified and deleted over the following hours; the lines of all blocks are interleaved
    in time order. Exactly ``round(n_blocks * anomaly_rate)`` blocks are anomalous (write exceptions,
    missing steps, stalled writes, redundant or doubled requests, delete errors, failed transfers) and
    about ``rare_normal_rate`` of normal blocks contain rare-but-normal events.
    """
    if n_blocks < 1:
        raise ValueError("n_blocks must be >= 1")
    if not 0.0 <= anomaly_rate <= 1.0:
        raise ValueError("anomaly_rate must be in [0, 1]")
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"storage:{seed}")
    t_start = datetime.strptime(start, "%Y-%m-%d %H:%M:%S")
    cluster = _HdfsCluster(rng, t_start)

    n_anom = min(n_blocks, round(n_blocks * anomaly_rate))
    anomalous = set(rng.sample(range(n_blocks), n_anom))
    kinds = list(_STORAGE_ANOMALIES)
    weights = list(_STORAGE_ANOMALIES.values())
    rare_kinds = ("rare_replicate", "rare_serve_exception", "rare_heavy_read")

    used: set[str] = set()
    truth: dict[str, int] = {}
    order: list[str] = []
    kind_counts: dict[str, int] = {}
    events: list[tuple[float, int, int, str, str, str]] = []
    t = 0.0
    seq = 0
    for b in range(n_blocks):
        t += rng.expovariate(1.2)
        blk = _block_id(rng, used)
        if b in anomalous:
            kind = rng.choices(kinds, weights=weights)[0]
            kind_counts[kind] = kind_counts.get(kind, 0) + 1
        elif rng.random() < rare_normal_rate:
            kind = rng.choice(rare_kinds)
        else:
            kind = "normal"
        truth[blk] = int(b in anomalous)
        order.append(blk)
        for tt, pid, level, comp, content in _block_events(cluster, blk, t, kind):
            events.append((max(tt, t), seq, pid, level, comp, content))
            seq += 1
    events.sort()

    log_path = directory / "HDFS.log"
    stamp_cache: dict[int, str] = {}
    n_lines = 0
    with log_path.open("w", encoding="utf-8", newline="\n") as fh:
        for tt, _, pid, level, comp, content in events:
            sec = int(tt)
            stamp = stamp_cache.get(sec)
            if stamp is None:
                stamp = (t_start + timedelta(seconds=sec)).strftime("%y%m%d %H%M%S")
                stamp_cache[sec] = stamp
            fh.write(f"{stamp} {pid} {level} {comp}: {content}\n")
            n_lines += 1
    label_path = directory / "anomaly_label.csv"
    with label_path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("BlockId,Label\n")
        for blk in order:
            fh.write(f"{blk},{'Anomaly' if truth[blk] else 'Normal'}\n")

    anomalous_ids = {blk for blk, y in truth.items() if y}
    n_anom_lines = sum(1 for e in events if _blk_of(e[5]) in anomalous_ids)
    return SimulatedLog(
        name="storage",
        directory=directory,
        log_path=log_path,
        format="hdfs",
        n_lines=n_lines,
        n_anomalous_lines=n_anom_lines,
        n_anomalous_sequences=n_anom,
        n_sequences=n_blocks,
        truth=truth,
        label_path=label_path,
        anomaly_kinds=dict(sorted(kind_counts.items())),
    )


def _blk_of(content: str) -> str:
    """First block id in a message (every simulated storage line has one)."""
    i = content.index("blk_")
    j = i + 4
    if j < len(content) and content[j] == "-":
        j += 1
    while j < len(content) and content[j].isdigit():
        j += 1
    return content[i:j]


# --------------------------------------------------------------------------------------------------
# compute cluster (BGL layout)
# --------------------------------------------------------------------------------------------------

_BGL_TZ = timezone(timedelta(hours=-7))  # the public BGL log prints local (Pacific daylight) time


def _hex8(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(32):08x}"


def _bgl_background(rng: random.Random) -> tuple[str, str, str, str]:
    """One background (normal) event: (type, component, level, content)."""
    r = rng.random()
    if r < 0.22:
        return "RAS", "KERNEL", "INFO", "instruction cache parity error corrected"
    if r < 0.36:
        return "RAS", "KERNEL", "INFO", f"{rng.randint(1, 90000)} floating point alignment exceptions"
    if r < 0.48:
        return "RAS", "KERNEL", "INFO", f"{rng.randint(1, 90000)} double-hummer alignment exceptions"
    if r < 0.58:
        return "RAS", "KERNEL", "INFO", f"CE sym {rng.randint(0, 35)}, at {_hex8(rng)}, mask 0x{rng.getrandbits(8):02x}"
    if r < 0.66:
        a, b = rng.randint(1000, 9_000_000), rng.randint(0, 40)
        return ("RAS", "KERNEL", "INFO", f"{a} total interrupts. {b} critical input interrupts. {b * 7} microseconds "
                f"total spent on critical input interrupts, {rng.randint(0, 9)} microseconds max time in a critical "
                f"input interrupt.")
    if r < 0.72:
        return ("RAS", "KERNEL", "INFO", f"{rng.randint(0, 90000)} microseconds spent in the rbs signal handler during "
                f"{rng.randint(0, 900)} calls. {rng.randint(0, 900)} microseconds was the maximum time for a single "
                f"instance of a correctable ddr.")
    if r < 0.78:
        return ("RAS", "KERNEL", "INFO", f"{rng.randint(1, 12)} ddr errors(s) detected and corrected on rank 0, "
                f"symbol {rng.randint(0, 35)}, bit {rng.randint(0, 7)}")
    if r < 0.82:
        return "RAS", "KERNEL", "INFO", f"total of {rng.randint(1, 40)} ddr error(s) detected and corrected"
    if r < 0.87:
        return "RAS", "KERNEL", "INFO", f"iar {rng.getrandbits(24):08x} dear {rng.getrandbits(28):08x}"
    if r < 0.90:
        return "RAS", "KERNEL", "INFO", "data cache search parity error detected. attempting to correct"
    if r < 0.93:
        return ("RAS", "KERNEL", "INFO", f"ciod: Received signal {rng.choice((2, 11, 15))}, code={rng.randint(0, 2)}, "
                f"errno={rng.randint(0, 9)}, address={_hex8(rng)}")
    if r < 0.96:
        return ("RAS", "KERNEL", "INFO", f"{rng.randint(1, 9)} torus receiver {rng.choice(('x+', 'x-', 'y+', 'z+'))} "
                f"input pipe error(s) (dcr 0x{rng.getrandbits(16):04x}) detected and corrected")
    if r < 0.98:
        return ("RAS", "MMCS", "ERROR", f"idoproxydb hit ASSERT condition: ASSERT expression=0 Source "
                f"file=idotransportmgr.cpp Source line={rng.choice((1043, 1044))} Function=int "
                f"IdoTransportMgr::SendPacket(IdoUdpMgr*, BglCtlPavTrace*)")
    # rare but normal: user errors reported as APP FATAL, still labelled '-'
    if r < 0.99:
        user = rng.choice(("germann2", "yates", "spelce1", "stella", "rjones"))
        return ("RAS", "APP", "FATAL", f"ciod: Error loading /home/{user}/run{rng.randint(1, 40)}/a.rts: invalid or "
                f"missing program image, {rng.choice(('Exec format error', 'Permission denied', 'No such file or directory'))}")
    return ("RAS", "APP", "FATAL", f"ciod: LOGIN chdir(/p/gb{rng.randint(1, 2)}/scratch/run{rng.randint(1, 99)}) "
            f"failed: No such file or directory")


def _bgl_job_end(rng: random.Random) -> list[tuple[str, str, str, str]]:
    """A normal job end: a short burst of core-dump chatter."""
    out = [("RAS", "KERNEL", "INFO", f"generating core.{rng.randint(100, 9999)}") for _ in range(rng.randint(2, 12))]
    prog = rng.choice(("/home/germann2/BGL-demo/SPaSM_mpi", "/bgl/apps/swl-prep/ibm-swl/functional/sppm_chkpt/run/sppm",
                       "/g/g21/lee/sweep3d/sweep3d.rts"))
    out.append(("RAS", "KERNEL", "INFO", f"ciod: generated {rng.randint(1, 128)} core files for program {prog}"))
    return out


_REGISTER_DUMP = [
    "instruction address: {h}",
    "machine state register: {h}",
    "exception syndrome register: {h}",
    "core configuration register: {h}",
    "data address: {h}",
    "program interrupt: illegal instruction......{b}",
    "floating pt ex mode {b} enable......{b}",
    "machine check enable..............{b}",
    "problem state (0=sup,1=usr).......{b}",
    "data store interrupt caused by icbi.........{b}",
    "force load/store alignment...............{b}",
]


def _ciod_sock(rng: random.Random) -> str:
    return f"172.16.96.{rng.randint(1, 254)}:{rng.randint(32768, 60999)}"


def _alert_content(rng: random.Random, category: str) -> tuple[str, str, str]:
    """(component, level, content) of one alert line of ``category``."""
    if category == "KERNDTLB":
        return "KERNEL", "FATAL", "data TLB error interrupt"
    if category == "KERNSTOR":
        return "KERNEL", "FATAL", "data storage interrupt"
    if category == "KERNMNTF":
        return "KERNEL", "FATAL", f"Lustre mount FAILED : bglio{rng.randint(1, 64)} : point /p/gb{rng.randint(1, 2)}"
    if category == "KERNTERM":
        return "KERNEL", "FATAL", f"rts: kernel terminated for reason {rng.choice((1001, 1004, 1016))}"
    if category == "KERNRTSP":
        return "KERNEL", "FATAL", "rts panic! - stopping execution"
    if category == "KERNREC":
        return ("KERNEL", "FATAL", f"Error receiving packet on tree network, expecting type 57 instead of type "
                f"{rng.randint(1, 9)} (softheader={rng.getrandbits(32):08x} {rng.getrandbits(32):08x} 00000002 "
                f"00000000) PSR0={rng.getrandbits(32):08x} PSR1=00000000 PRXF=00000002 PIXF=00000007")
    if category == "APPREAD":
        return "APP", "FATAL", f"ciod: failed to read message prefix on control stream (CioStream socket to {_ciod_sock(rng)}"
    if category == "APPSEV":
        return ("APP", "FATAL", f"ciod: Error reading message prefix after LOAD_MESSAGE on CioStream socket to "
                f"{_ciod_sock(rng)}: Link has been severed")
    if category == "APPRES":
        return ("APP", "FATAL", f"ciod: Error reading message prefix on CioStream socket to {_ciod_sock(rng)}, "
                f"Connection reset by peer")
    if category == "APPTO":
        return ("APP", "FATAL", f"ciod: Error reading message prefix on CioStream socket to {_ciod_sock(rng)}, "
                f"Connection timed out")
    raise ValueError(category)


# category -> (weight, alert lines low/high, precursor probability, job-wide (several nodes))
_BGL_EPISODES: dict[str, tuple[float, int, int, float, bool]] = {
    "KERNDTLB": (0.22, 20, 120, 0.5, False),
    "KERNSTOR": (0.14, 10, 80, 0.5, False),
    "KERNMNTF": (0.10, 3, 20, 0.3, False),
    "KERNTERM": (0.08, 1, 4, 0.7, False),
    "KERNRTSP": (0.05, 1, 3, 0.7, False),
    "KERNREC": (0.08, 5, 40, 0.4, False),
    "APPREAD": (0.10, 1, 6, 0.2, True),
    "APPSEV": (0.12, 1, 8, 0.2, True),
    "APPRES": (0.07, 1, 5, 0.2, True),
    "APPTO": (0.04, 1, 4, 0.2, True),
}


def _bgl_nodes(rng: random.Random, n: int) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        kind = "I" if rng.random() < 0.1 else "C"
        slot = 18 if kind == "I" else rng.randint(2, 17)
        names.add(f"R{rng.randint(0, 77):02d}-M{rng.randint(0, 1)}-N{rng.choice('0123456789ABCDEF')}-"
                  f"{kind}:J{slot:02d}-U{rng.choice(('01', '11'))}")
    return sorted(names)


def simulate_compute_cluster(
    out_dir: str | Path,
    *,
    n_nodes: int = 40,
    hours: float = 24,
    seed: int = 0,
    start: str = "2005-06-03 00:00:00",
    lines_per_node_hour: float = 38.0,
    failures_per_node_day: float = 1.0,
    min_episodes: int = 4,
) -> SimulatedLog:
    """Simulate a BlueGene/L-like cluster of compute nodes; write ``BGL.log``.

    Every node emits background RAS chatter (Poisson, node-specific rate around
    ``lines_per_node_hour``, plus bursts at job ends). Failure episodes (about
    ``failures_per_node_day`` per node per day, at least ``min_episodes``) add a burst of alert lines
    whose first field is the alert category; application failures hit several nodes of the same job at
    once, and some episodes are preceded by warning precursors (correctable-error storms, register
    dumps) that stay labelled ``-``.
    """
    if n_nodes < 2:
        raise ValueError("n_nodes must be >= 2")
    if hours <= 0:
        raise ValueError("hours must be > 0")
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"compute:{seed}")
    t0 = datetime.strptime(start, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_BGL_TZ).timestamp()
    span = hours * 3600.0
    nodes = _bgl_nodes(rng, n_nodes)

    # (time, seq, label, node, type, component, level, content)
    events: list[tuple[float, int, str, str, str, str, str, str]] = []
    seq = 0

    def emit(t: float, label: str, node: str, typ: str, comp: str, level: str, content: str) -> None:
        nonlocal seq
        events.append((t, seq, label, node, typ, comp, level, content))
        seq += 1

    for node in nodes:
        rate = lines_per_node_hour * rng.lognormvariate(0.0, 0.5) / 3600.0
        t = rng.expovariate(rate)
        while t < span:
            typ, comp, level, content = _bgl_background(rng)
            emit(t0 + t, "-", node, typ, comp, level, content)
            t += rng.expovariate(rate)
        t = rng.expovariate(1 / 7200.0)
        while t < span:
            tb = t
            for typ, comp, level, content in _bgl_job_end(rng):
                tb += rng.uniform(0.001, 2.0)
                emit(t0 + tb, "-", node, typ, comp, level, content)
            t += rng.expovariate(1 / 7200.0)

    n_eps = max(min_episodes, round(n_nodes * hours / 24.0 * failures_per_node_day))
    cats = list(_BGL_EPISODES)
    cat_w = [v[0] for v in _BGL_EPISODES.values()]
    episodes: list[FailureEpisode] = []
    for _ in range(n_eps):
        cat = rng.choices(cats, weights=cat_w)[0]
        _, lo, hi, p_pre, jobwide = _BGL_EPISODES[cat]
        ts = rng.uniform(0.03 * span, 0.97 * span)
        if jobwide:
            hit = tuple(sorted(rng.sample(nodes, rng.randint(2, min(8, n_nodes)))))
        else:
            hit = (rng.choice(nodes),)
        n_alert = n_pre = 0
        first = last = t0 + ts
        for node in hit:
            tn = ts + rng.uniform(0.0, 5.0)
            if rng.random() < p_pre:
                # precursors: a storm of correctable errors or a register dump, still labelled normal
                tp = max(0.0, tn - rng.uniform(30.0, 900.0))
                for _k in range(rng.randint(3, 15)):
                    if rng.random() < 0.5:
                        content = (f"{rng.randint(1, 40)} ddr error(s) detected and corrected on rank 0, symbol "
                                   f"{rng.randint(0, 35)} over {rng.randint(1, 9999)} seconds")
                        emit(t0 + tp, "-", node, "RAS", "KERNEL", "INFO", content)
                    else:
                        tmpl = rng.choice(_REGISTER_DUMP)
                        content = tmpl.format(h=_hex8(rng), b=rng.randint(0, 1))
                        emit(t0 + tp, "-", node, "RAS", "KERNEL", "FATAL", content)
                    n_pre += 1
                    tp += rng.uniform(0.5, 30.0)
                tn = max(tn, tp + 1.0)
            for _k in range(rng.randint(lo, hi)):
                comp, level, content = _alert_content(rng, cat)
                emit(t0 + tn, cat, node, "RAS", comp, level, content)
                first, last = min(first, t0 + tn), max(last, t0 + tn)
                n_alert += 1
                if rng.random() < 0.25 and cat.startswith("KERN"):
                    # register dump lines interleaved in the burst are labelled normal, as in real BGL
                    tmpl = rng.choice(_REGISTER_DUMP)
                    emit(t0 + tn + 0.0005, "-", node, "RAS", "KERNEL", "FATAL", tmpl.format(h=_hex8(rng), b=rng.randint(0, 1)))
                tn += rng.expovariate(1 / 2.0) + 0.001
        episodes.append(FailureEpisode(cat, hit, first, last, n_alert, n_pre))

    events.sort()
    log_path = directory / "BGL.log"
    n_lines = n_alert_lines = 0
    with log_path.open("w", encoding="utf-8", newline="\n") as fh:
        for t, _, label, node, typ, comp, level, content in events:
            us = round(t * 1_000_000)
            sec, micro = divmod(us, 1_000_000)
            dt = datetime.fromtimestamp(sec, _BGL_TZ)
            fh.write(f"{label} {sec} {dt.strftime('%Y.%m.%d')} {node} {dt.strftime('%Y-%m-%d-%H.%M.%S')}.{micro:06d} "
                     f"{node} {typ} {comp} {level} {content}\n")
            n_lines += 1
            n_alert_lines += label != "-"
    episodes.sort(key=lambda e: e.start)
    counts: dict[str, int] = {}
    for e in episodes:
        counts[e.category] = counts.get(e.category, 0) + 1
    return SimulatedLog(
        name="compute",
        directory=directory,
        log_path=log_path,
        format="bgl",
        n_lines=n_lines,
        n_anomalous_lines=n_alert_lines,
        n_anomalous_sequences=None,
        n_sequences=None,
        truth=None,
        label_path=None,
        anomaly_kinds=dict(sorted(counts.items())),
        episodes=episodes,
    )


def simulate_all(out_dir: str | Path, *, scale: float = 1.0, seed: int = 0) -> dict[str, SimulatedLog]:
    """Simulate both systems into ``out_dir/"storage"`` and ``out_dir/"compute"``.

    ``scale`` multiplies the default sizes (4,000 blocks; 24 hours of 40 nodes).
    """
    if scale <= 0:
        raise ValueError("scale must be > 0")
    root = Path(out_dir)
    return {
        "storage": simulate_storage_cluster(root / "storage", n_blocks=max(60, round(4000 * scale)), seed=seed),
        "compute": simulate_compute_cluster(root / "compute", hours=24.0 * scale, seed=seed),
    }
