"""Make the README's picture of a certificate's first screen from a real run.

Runs ``paircert run`` on the camera-strong suites against an emulated camera with a catalogue fault (so that there
is something to diagnose), opens the run's ``report.html`` in headless Chromium at 1280 x 900 and keeps the first
screen as a small PNG (a 128-colour palette): ``docs/certificate-first-screen.png``.

    .venv/bin/python scripts/certificate_screenshot.py [--fault qr-mangles-utf8] [--out docs/...png]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from harness.profiles import load_profile
from harness.report.pdf import chromium_missing, screenshot

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 900


def faulty_profile(directory: Path, fault: str) -> Path:
    """camera-strong with ``fault`` named in ``[adapters.device] args``."""
    text = Path(load_profile("camera-strong").path or "").read_text(encoding="utf-8")
    path = directory / "camera-strong-with-a-fault.toml"
    path.write_text(text.replace('device = "emulated"', f'device = {{ name = "emulated", args = {{ faults = '
                                                        f'["{fault}"] }} }}'), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", default="qr-mangles-utf8", help="a camera fault of suites/faults/camera.toml")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "certificate-first-screen.png")
    args = parser.parse_args()
    missing = chromium_missing()
    if missing is not None:
        print(f"certificate_screenshot: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="paircert-screenshot-") as tmp:
        directory = Path(tmp)
        paircert = Path(sys.executable).parent / "paircert"
        done = subprocess.run([str(paircert), "run", "--profile", str(faulty_profile(directory, args.fault)),
                               "--fuzz-budget", "ci", "--report-dir", str(directory / "reports"), "--no-progress"],
                              check=False)
        if done.returncode != 1:
            print(f"certificate_screenshot: the run exited {done.returncode}, not 1 (a FAIL)", file=sys.stderr)
            return 1
        report = (directory / "reports" / "latest").resolve() / "report.html"
        raw = screenshot(report, directory / "first-screen.png", width=WIDTH, height=HEIGHT)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(raw) as image:
            image.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(args.out, optimize=True)
    print(f"{args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
