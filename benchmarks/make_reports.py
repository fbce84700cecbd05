"""The HTML reports of issue 16, made by the real commands, each opened in headless Chromium.

    python benchmarks/make_reports.py [--data-dir ../shared/data] [--out /tmp/logad-reports]
        [--only evaluate,detect,transfer,large] [--quick] [--screenshot docs/report-detect.png]

- evaluate: `logad evaluate --report` on hdfs_2pct (raw lines -> parser -> block sessions,
  chronological 60/10/30) with knn and with decision-tree;
- detect: `logad train` lstm-w2v on thunderbird_slice (100-line windows, step 20; normal windows
  only, threshold from the latest 10% of them), then `logad detect --report` on the slice;
- transfer: `logad transfer --method metalog --report` hdfs_2pct -> openstack_sessions at 1% target
  labels (--quick: 2 epochs, only to check that it runs);
- large: a detect run of more than 500,000 lines (the built-in simulator's HDFS-like storage
  cluster; knn trained on another simulated period), whose report must stay under 5 MB and render
  in under 3 s.

Each report is opened in Debian's Chromium through Playwright (no browser download): console
errors, requests leaving the page, figures drawn and the time to the load event are recorded in
`benchmarks/results/reports.md`. The reports hold real log lines, so they stay in --out (never in
the repository).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from common import data_dir_or_none  # noqa: E402

from logad.cli import main  # noqa: E402

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
LARGE_LINES = 500_000


def run(argv: list[str], log: list[str]) -> float:
    cmd = "logad " + " ".join(argv)
    print(f"$ {cmd}", flush=True)
    t0 = time.perf_counter()
    rc = main(argv)
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"failed ({rc}): {cmd}")
    log.append(cmd)
    return seconds


def evaluate(data: Path, out: Path, log: list[str]) -> list[tuple[str, Path, float]]:
    made = []
    for det in ("knn", "decision-tree"):
        html = out / f"hdfs_2pct-{det}.html"
        s = run(["evaluate", "--dataset", "hdfs", "--data-dir", str(data / "hdfs_2pct"), "--detector", det, "--json",
                 str(out / f"hdfs_2pct-{det}.json"), "--report", str(html), "--quiet"], log)
        made.append((f"evaluate {det} on hdfs_2pct", html, s))
    return made


def detect(data: Path, out: Path, log: list[str]) -> list[tuple[str, Path, float]]:
    log_file = data / "thunderbird_slice" / "Thunderbird.log.gz"
    model = out / "thunderbird-lstm-w2v-model"
    run(["train", "--logs", str(log_file), "--format", "thunderbird", "--group", "count", "--window-size", "100",
         "--window-step", "20", "--detector", "lstm-w2v", "--save", str(model), "--quiet"], log)
    html = out / "thunderbird_slice-lstm-w2v.html"
    s = run(["detect", str(log_file), "--model", str(model), "--out", str(out / "thunderbird_slice-lstm-w2v.csv"),
             "--report", str(html), "--quiet"], log)
    return [("detect lstm-w2v on thunderbird_slice", html, s)]


def transfer(data: Path, out: Path, log: list[str], quick: bool) -> list[tuple[str, Path, float]]:
    html = out / "metalog-hdfs_2pct-openstack.html"
    argv = ["transfer", "--method", "metalog", "--source", f"hdfs={data / 'hdfs_2pct'}", "--target",
            f"openstack-sessions={data / 'openstack_sessions'}", "--target-labels", "0.01",
            "--split", "pooled",  # the published protocol: openstack's own training file holds no anomaly
            "--json",
            str(out / "metalog-hdfs_2pct-openstack.json"), "--report", str(html), "--quiet"]
    if quick:
        argv += ["--param", "epochs=2"]
    return [("transfer metalog hdfs_2pct -> openstack_sessions" + (" (--quick: 2 epochs)" if quick else ""), html,
             run(argv, log))]


def large(out: Path, log: list[str]) -> list[tuple[str, Path, float]]:
    from logad.demo.simulator import simulate_storage_cluster

    train = simulate_storage_cluster(out / "sim-train", n_blocks=6000, seed=11)
    blocks = 31_000
    new = simulate_storage_cluster(out / "sim-new", n_blocks=blocks, seed=12, start="2008-11-12 08:00:00")
    with open(new.log_path, "rb") as fh:
        n = sum(1 for _ in fh)
    print(f"simulated {n:,} lines to scan (another {blocks:,} blocks)")
    if n < LARGE_LINES:
        raise SystemExit(f"the simulated log has only {n:,} lines; raise `blocks`")
    model = out / "sim-knn-model"
    run(["train", "--logs", str(train.log_path), "--format", "hdfs", "--detector", "knn", "--save", str(model),
         "--quiet"], log)
    html = out / "simulated-500k-knn.html"
    s = run(["detect", str(new.log_path), "--model", str(model), "--out", str(out / "simulated-500k-knn.csv"),
             "--report", str(html), "--quiet"], log)
    return [(f"detect knn on {n:,} simulated HDFS lines", html, s)]


def open_all(made: list[tuple[str, Path, float]], screenshot: Path | None, shot_of: str) -> list[dict]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed: reports not opened")
        return []
    exe = shutil.which("chromium")
    if exe is None:
        print("no chromium: reports not opened (apt-get install chromium)")
        return []
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=FLAGS)
        for name, html, seconds in made:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems: list[str] = []
            outside: list[str] = []
            page.on("console", lambda m, pr=problems: pr.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e, pr=problems: pr.append(str(e)))
            page.on("request", lambda r, o=outside: o.append(r.url) if not r.url.startswith("file:") else None)
            t0 = time.perf_counter()
            page.goto(html.resolve().as_uri(), wait_until="load")
            load = time.perf_counter() - t0
            figs = page.evaluate("Array.from(document.querySelectorAll('svg.fig:not(.spark)')).map(s => "
                                 "s.dataset.figure + ':' + s.querySelectorAll('.mark').length)")
            sparks = page.evaluate("document.querySelectorAll('svg.spark').length")
            if screenshot is not None and name.startswith(shot_of):
                take_screenshot(page, screenshot)
            rows.append({"report": name, "file": html.name, "kb": html.stat().st_size / 1024, "made_s": seconds,
                         "load_s": load, "figures": " ".join(figs) + (f" + {sparks} sparklines" if sparks else ""),
                         "console errors": len(problems), "outside requests": len(outside)})
            print(f"  {name}: {rows[-1]['kb']:,.0f} KB, opened in {load:.2f}s, {len(problems)} console errors, "
                  f"{len(outside)} requests out; figures {rows[-1]['figures']}", flush=True)
            for msg in problems[:5]:
                print(f"    console: {msg}")
            page.close()
        browser.close()
    return rows


def take_screenshot(page, path: Path) -> None:
    """The top of a report (summary, timeline, heatmap) as a PNG under 300 KB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 1500})
    page.screenshot(path=str(path), full_page=False)
    if path.stat().st_size > 300 * 1024:  # a palette keeps the flat colours of the figures
        try:
            from PIL import Image

            Image.open(path).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(path, optimize=True)
        except ImportError:
            pass
    print(f"  screenshot -> {path} ({path.stat().st_size / 1024:,.0f} KB)")


def write_results(rows: list[dict], commands: list[str], path: Path) -> None:
    from logad.evaluation.runner import markdown_table

    cols = [("report", "report"), ("file", "file"), ("kb", "KB"), ("made_s", "command s"), ("load_s", "opened in s"),
            ("console errors", "console errors"), ("outside requests", "requests leaving"),
            ("figures", "figures (data elements drawn: bars, cells, dots, lines)")]
    for r in rows:
        r["kb"] = f"{r['kb']:,.0f}"
        r["made_s"] = f"{r['made_s']:.1f}"
        r["load_s"] = f"{r['load_s']:.2f}"
    text = ("# HTML reports (`python benchmarks/make_reports.py`)\n\n"
            f"Run of {time.strftime('%Y-%m-%d')} on 2 shared CPU cores; each report opened in headless Chromium "
            "(Debian's, through Playwright); 'opened in' is the time from navigation to the load event.\n\n"
            + markdown_table(rows, cols) + "\n\nCommands:\n\n" + "\n".join(f"    {c}" for c in commands) + "\n")
    path.write_text(text)
    print(f"wrote {path}")


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=str(REPO / ".." / "shared" / "data"))
    ap.add_argument("--out", default="/tmp/logad-reports")
    ap.add_argument("--only", default="evaluate,detect,transfer,large")
    ap.add_argument("--quick", action="store_true", help="MetaLog with 2 epochs (checks that it runs)")
    ap.add_argument("--screenshot", help="save the top of the detect report as this PNG (the README's)")
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "reports.md"))
    args = ap.parse_args(argv)
    data = data_dir_or_none(args.data_dir, "hdfs_2pct", "thunderbird_slice", "openstack_sessions")
    if data is None:
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    commands: list[str] = []
    made = []
    if "evaluate" in only:
        made += evaluate(data, out, commands)
    if "detect" in only:
        made += detect(data, out, commands)
    if "transfer" in only:
        made += transfer(data, out, commands, args.quick)
    if "large" in only:
        made += large(out, commands)
    rows = open_all(made, Path(args.screenshot) if args.screenshot else None, "detect lstm-w2v")
    if rows and only == {"evaluate", "detect", "transfer", "large"} and not args.quick:
        write_results(rows, commands, Path(args.results))
    bad = [r for r in rows if r["console errors"] or r["outside requests"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main_())
