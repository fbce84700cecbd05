"""Headless Chromium for the browser tests (Debian's, driven by Playwright through
`executable_path`; never a browser download): one launcher, skipping with the reason where no
browser can be had or it cannot start here."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def chromium_context(tmp_path_factory, profile: str, **launch):
    """A persistent headless Chromium context in a fresh profile folder; `launch` goes to
    Playwright's launch_persistent_context (viewport, timeout)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    folder = tmp_path_factory.mktemp(profile)
    with sync_api.sync_playwright() as p:
        try:
            ctx = p.chromium.launch_persistent_context(str(folder), executable_path=exe, headless=True, args=FLAGS,
                                                       **launch)
        except Exception as exc:  # noqa: BLE001 - a browser that cannot start here: skip, with the reason
            pytest.skip(f"Chromium did not start: {exc}")
        try:
            yield ctx
        finally:
            ctx.close()
