"""The certificate as a PDF (and a picture of its first screen), through headless Chromium where it is installed.

``report.html`` carries its own print styling (A4, each section on new pages, the timelines of failures unfolded),
so the PDF is the page printed by a browser: Debian's ``chromium`` run headless with a new empty profile, no
network features, the file opened from disk. Where Chromium is missing, :func:`chromium_missing` says why and
what to install, and nothing is written.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

PDF_FILE = "report.pdf"
INSTALL_HELP = ("install Debian's chromium (`make chromium`, or `apt-get install -y chromium`) and run "
                "`paircert report --pdf` again")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--mute-audio")
TIMEOUT_S = 120.0


class PdfError(Exception):
    """Chromium is missing, or did not print the page; the message says which and why."""


def find_chromium() -> str | None:
    """The Chromium executable on the PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromium_missing() -> str | None:
    """Why no PDF can be made here (None: Chromium is installed)."""
    return None if find_chromium() is not None else f"Chromium is not installed: {INSTALL_HELP}"


def _run(arguments: list[str], output: Path, timeout_s: float) -> None:
    chromium = find_chromium()
    if chromium is None:
        raise PdfError(f"Chromium is not installed: {INSTALL_HELP}")
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="paircert-chromium-") as profile:
        try:
            done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *arguments],
                                  capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish within {timeout_s:g} s") from None
    if done.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PdfError(f"Chromium exited {done.returncode} without writing {output.name}: {' / '.join(tail)}")


def render_pdf(html: Path, pdf: Path, *, timeout_s: float = TIMEOUT_S) -> Path:
    """Print ``html`` to ``pdf`` (A4, as the page's print styling says; no browser header or footer)."""
    _run([f"--print-to-pdf={pdf}", "--no-pdf-header-footer", "--virtual-time-budget=5000", html.resolve().as_uri()],
         pdf, timeout_s)
    return pdf


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 900, timeout_s: float = TIMEOUT_S) -> Path:
    """A PNG of the first screen of ``html`` in a ``width`` x ``height`` window."""
    _run([f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri()], png, timeout_s)
    return png


__all__ = ["INSTALL_HELP", "PDF_FILE", "PdfError", "chromium_missing", "find_chromium", "render_pdf", "screenshot"]
