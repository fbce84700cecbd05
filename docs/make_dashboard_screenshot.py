"""The dashboard screenshot of the README (docs/dashboard.png), made the way a person sees it:

    python docs/make_dashboard_screenshot.py MODEL_DIR LOG [--lines 60000] [--out docs/dashboard.png]

Starts `logad serve` with the model on 127.0.0.1 (a free port, a fresh state folder), sends the
log's first `--lines` lines over HTTP in batches over a few seconds, opens the dashboard in
headless Chromium (Debian's, through Playwright), opens the highest-scored alarm and marks it a
true positive, and saves the page (made smaller by `pngquant` when it is installed). (The README's was made with the knn model of bench_serve.py:
hdfs_2pct's first 60 % of lines, and the other 40 % as LOG.)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("log")
    ap.add_argument("--lines", type=int, default=60_000)
    ap.add_argument("--out", default=str(REPO / "docs" / "dashboard.png"))
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()
    import httpx
    from playwright.sync_api import sync_playwright

    from logad.service import ServeConfig, start_in_thread

    work = Path(tempfile.mkdtemp(prefix="logad-shot-"))
    running = start_in_thread(ServeConfig(model=args.model, state_dir=str(work / "state"), port=0))
    try:
        client = httpx.Client(base_url=running.url, timeout=60)
        with open(args.log, "rb") as fh:
            lines = [fh.readline().rstrip(b"\n") for _ in range(args.lines)]
        step = 2000
        for i in range(0, len(lines), step):  # over a few seconds, so the rate figure has a shape
            client.post("/v1/lines", content=b"\n".join(lines[i:i + step]) + b"\n",
                        headers={"content-type": "text/plain"}).raise_for_status()
            time.sleep(0.25)
        client.post("/v1/flush").raise_for_status()
        alarms = client.get("/v1/alarms", params={"kind": "sequence", "limit": 1000}).json()["alarms"]
        best = max(alarms, key=lambda a: a["score"])["id"] if alarms else None
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(work / "profile"), executable_path=args.chromium,
                                                       headless=True, args=FLAGS,
                                                       viewport={"width": 1360, "height": 1500})
            ctx.set_default_timeout(30_000)
            page = ctx.new_page()
            page.goto(running.url + "/", wait_until="load")
            page.wait_for_selector('#dash[data-live="1"]')
            page.wait_for_selector('svg[data-figure="rate"]')
            if best is not None:
                page.locator(f'li.alarm-row[data-id="{best}"]').click()
                page.wait_for_selector(f'#detail .alarm-detail[data-id="{best}"]')
                page.locator("#detail button.fb.tp").click()
                page.wait_for_selector('#detail .verdict[data-verdict="true_positive"]')
            page.screenshot(path=args.out)
            ctx.close()
        if shutil.which("pngquant"):  # Debian's pngquant: the same picture in a third of the bytes
            import subprocess

            subprocess.run(["pngquant", "--quality", "70-90", "--speed", "1", "--force", "--output", args.out,
                            args.out], check=True)
        print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1024:.0f} KB)")
    finally:
        running.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
