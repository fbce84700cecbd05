"""Constant speed and bounded memory over a long stream, in one run:

    python benchmarks/bench_parser_stream.py [--lines 10000000] [--templates 5000] [--seed 0]

A deterministic generator writes lines from thousands of templates (words from a fixed vocabulary;
slots filled with numbers, hex ids, IP addresses, and words from small sets), chosen with a Zipf-like
law so that rare templates keep appearing late. The default parser (drain3.ini masking) learns them
through `add_many`, one million lines at a time; generating a million is not timed. Prints
lines/s per million, the ratio last/first million (target: within 20%), templates, and memory
(resident set after each million and the peak), and writes benchmarks/results/parsing-stream.md.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from logad.parsing.skeleton import SkeletonParser  # noqa: E402

SLOTS = ("{n}", "{h}", "{ip}", "{w}")


def make_templates(n: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(3000)]
    out = []
    for _ in range(n):
        toks = [rng.choice(vocab) for _ in range(rng.randint(4, 14))]
        for _ in range(rng.randint(1, 3)):
            toks[rng.randrange(1, len(toks))] = rng.choice(SLOTS)
        out.append(" ".join(toks))
    return out


def generate(templates: list[str], weights: list[float], count: int, rng: random.Random) -> list[str]:
    small = ("alpha", "beta", "gamma")  # a low-cardinality word slot: stays part of the template
    picks = rng.choices(range(len(templates)), weights=weights, k=count)
    r = rng.random
    out = []
    for t in picks:
        tpl = templates[t]
        out.append(tpl.format(n=int(r() * 1e6), h=f"0x{int(r() * 2**32):x}",
                              ip=f"10.{int(r() * 255)}.{int(r() * 255)}.{int(r() * 255)}", w=small[int(r() * 3)]))
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--templates", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    templates = make_templates(args.templates, rng)
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(templates))]  # Zipf-like: a long tail
    SkeletonParser().add_many(["warm up 1"])  # imports (numpy) out of the first million's clock
    parser = SkeletonParser()
    step = 1_000_000
    rows = []
    done = 0
    while done < args.lines:
        block = generate(templates, weights, min(step, args.lines - done), rng)
        t0 = time.perf_counter()
        parser.add_many(block)
        dt = time.perf_counter() - t0
        done += len(block)
        rows.append((done, len(block) / dt, len(parser.live_templates), len(parser._keys), rss_mb()))
        print(f"  {done:>11,} lines: {rows[-1][1]:>10,.0f} lines/s, {rows[-1][2]:,} templates, "
              f"{rows[-1][3]:,} keys, RSS {rows[-1][4]:.0f} MB", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first, last = rows[0][1], rows[-1][1]
    ratio = last / first
    verdict = "PASS" if ratio >= 0.8 else "FAIL"
    out = ["# Parser on a long generated stream", "",
           f"{args.lines:,} lines from {args.templates:,} generated templates (seed {args.seed}), default parser "
           f"with the drain3.ini masking, `add_many` per million (generation not timed; a warm-up call on another parser first, so imports are "
           f"not in the first million); {os.cpu_count()} cores "
           f"shared with other jobs (load average {os.getloadavg()[0]:.1f} at the end).", "",
           "| lines so far | lines/s in this million | templates | distinct keys | RSS MB |", "|---|---|---|---|---|"]
    out += [f"| {d:,} | {r:,.0f} | {t:,} | {k:,} | {m:.0f} |" for d, r, t, k, m in rows]
    out += ["", f"- last million / first million lines/s: {ratio:.2f} (target >= 0.80) {verdict}",
            f"- peak RSS {peak:.0f} MB; templates {rows[-1][2]:,}, distinct keys {rows[-1][3]:,}", ""]
    text = "\n".join(out)
    print(text)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / "parsing-stream.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
