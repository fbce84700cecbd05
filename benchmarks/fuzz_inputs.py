"""Long property-based fuzzing of every reader an untrusted file reaches (issue 17): the log reader
(three formats), the label readers, the parser state loader and the model loader (model.json and a
detector's config), with arbitrary and mutated bytes. Each input must give success or one of
logad's own errors: no other exception, no hang (5 s per call), bounded memory.

    python benchmarks/fuzz_inputs.py [--examples 10000] [--only NAME]

Prints one line per target (examples run, findings, seconds, peak memory) beside the target of
10,000 examples each and zero findings, and writes benchmarks/results/fuzz.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.robustness import fuzz_targets as ft  # noqa: E402

MEMORY_BOUND_MB = 1024


def run_target(name: str, target, seed: bytes, examples: int, folder: Path) -> dict:
    findings: list[str] = []
    count = [0]

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=("generate",))
    @given(ft.inputs(seed))
    def check(data):
        count[0] += 1
        problem = ft.run_one(target, data, folder)
        if problem and len(findings) < 20:
            findings.append(f"{problem} (input {data[:80]!r}{'...' if len(data) > 80 else ''})")

    t0 = time.perf_counter()
    check()
    return {"name": name, "examples": count[0], "findings": findings, "seconds": time.perf_counter() - t0,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--only", help="run the targets whose name holds this text")
    args = ap.parse_args()
    folder = ft.fresh_folder()
    targets = dict(ft.TARGETS)
    targets.update(ft.json_targets(folder))
    rows = []
    for name, (target, seed) in targets.items():
        if args.only and args.only not in name:
            continue
        r = run_target(name, target, seed, args.examples, folder)
        rows.append(r)
        verdict = "PASS" if not r["findings"] and r["examples"] >= args.examples and r["peak_mb"] < MEMORY_BOUND_MB \
            else "MISS"
        print(f"{name:28s} {r['examples']:>6,} examples, {len(r['findings'])} findings, {r['seconds']:7.1f} s, "
              f"peak {r['peak_mb']:.0f} MB (target {args.examples:,} examples, 0 findings, < {MEMORY_BOUND_MB} MB) "
              f"{verdict}", flush=True)
        for f in r["findings"]:
            print(f"    {f}")
    lines = ["# Fuzzing the readers (`python benchmarks/fuzz_inputs.py`)", "",
             "| target | examples | findings | seconds | peak MB |", "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['examples']:,} | {len(r['findings'])} | {r['seconds']:.0f} | {r['peak_mb']:.0f} |"
              for r in rows]
    for r in rows:
        for f in r["findings"]:
            lines.append(f"- {r['name']}: {f}")
    if not args.only:
        (REPO / "benchmarks" / "results" / "fuzz.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0 if all(not r["findings"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
