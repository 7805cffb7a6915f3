"""The shared conformance vectors (../shared/testdata), for the tests that check against them.

Locally a missing folder skips those tests; where SMSBOT_TESTDATA_REQUIRED is set (CI:
.ci/run) it fails them, so a checkout without the vectors cannot pass unnoticed. The
decision is made once, at setup, by the `testdata_missing` mark (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import beside


def _testdata() -> Path:
    given = os.environ.get("SMSBOT_TESTDATA_DIR")
    if given:
        return Path(given)
    places = beside.candidates(Path("shared", "testdata"))
    return next((p for p in places if p.is_dir()), places[0])


TESTDATA = _testdata()
"""External conformance vectors: beside the repository, or beside the one it was cloned from
(tests/beside.py); SMSBOT_TESTDATA_DIR names another folder."""
REQUIRED_VARIABLE = "SMSBOT_TESTDATA_REQUIRED"


def required() -> bool:
    return bool(os.environ.get(REQUIRED_VARIABLE, "").strip())


def missing(path: Path) -> Any:
    """The one parameter a vector test gets when `path` is absent: skipped, or failed in CI."""
    return pytest.param(None, id="missing", marks=pytest.mark.testdata_missing(str(path)))


def load(name: str) -> Any | None:
    """The JSON of ../shared/testdata/`name`, or None when it is absent."""
    path = TESTDATA / name
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


def params(
    name: str, id_of: Callable[[Any], str] = lambda v: v["id"], pick: Callable = lambda d: d
) -> list:
    """pytest parameters, one per vector of `pick(load(name))`, or the one `missing` one."""
    data = load(name)
    if data is None:
        return [missing(TESTDATA / name)]
    return [pytest.param(v, id=id_of(v)) for v in pick(data)]


def require(name: str) -> Any | None:
    """For a test that also runs without the vectors: the data, or None; fails in CI."""
    data = load(name)
    if data is None and required():
        pytest.fail(f"{TESTDATA / name} is missing and {REQUIRED_VARIABLE} is set")
    return data
