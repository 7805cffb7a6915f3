"""Named points where tests make a worker pause or die, to prove crashes lose nothing.

Active only with SMSBOT_ENV=test and SMSBOT_FAILPOINTS set, e.g.
`SMSBOT_FAILPOINTS="send.after_provider=sleep:30"`. A point that fires first touches
`<SMSBOT_FAILPOINT_DIR>/<name>`, so a test knows the worker is there before it kills it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def _active() -> dict[str, str]:
    if os.environ.get("SMSBOT_ENV") != "test":
        return {}
    spec = os.environ.get("SMSBOT_FAILPOINTS", "")
    return dict(item.split("=", 1) for item in spec.split(",") if "=" in item)


def hit(name: str) -> None:
    """Do what the failpoint `name` is set to: `sleep:<seconds>`, `exit` or `raise`."""
    action = _active().get(name)
    if action is None:
        return
    marker_dir = os.environ.get("SMSBOT_FAILPOINT_DIR")
    if marker_dir:
        Path(marker_dir, name).touch()
    if action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
    elif action == "exit":
        os._exit(137)
    elif action == "raise":
        raise RuntimeError(f"failpoint {name}")
