"""Running the Hypercore reference scripts (bench/hypercore_reference) that benchmarks compare
against, in the same run on the same machine."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "hypercore_reference"


def run_reference(script: str, **env: str) -> dict:
    """Run SCRIPT with node (installing hypercore first if needed); its last JSON line."""
    if not (REFERENCE / "node_modules" / "hypercore").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=REFERENCE,
            check=True,
        )
    out = subprocess.run(
        ["node", script],
        cwd=REFERENCE,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
