"""Folders kept beside the repository (../shared: conformance vectors, the RapidSMS peer).

A clone made elsewhere (CI's `git clone . /tmp/fresh && bash .ci/run`) has no ../shared of its
own, but the repository it was cloned from has: so the folder beside this checkout is looked
for first, then the one beside the origin when that is a local path.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def candidates(relative: Path) -> list[Path]:
    """`relative` beside this checkout, then beside the local repository it was cloned from."""
    found = [ROOT.parent / relative]
    origin = subprocess.run(
        ["git", "remote", "get-url", "origin"], capture_output=True, text=True, cwd=ROOT
    )
    url = origin.stdout.strip().removeprefix("file://")
    if origin.returncode == 0 and url.startswith("/"):
        beside_origin = Path(url).resolve().parent / relative
        if beside_origin not in found:
            found.append(beside_origin)
    return found
