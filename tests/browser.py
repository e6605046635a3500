"""Headless Chromium for the tests that look at a page (Debian's chromium)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def screenshot(page: str | Path, png: Path, *, size=(1200, 1600), timeout: float = 120,
               extra=()) -> subprocess.CompletedProcess:
    """Render ``page`` (a file path or a URL) into ``png`` in a throwaway
    profile, with nothing fetched in the background; returns chromium's
    completed process (the caller asserts on it)."""
    url = page if isinstance(page, str) else Path(page).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        return subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={png}",
             f"--window-size={size[0]},{size[1]}", *extra, url],
            capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
