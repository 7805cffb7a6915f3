"""A built wheel works on its own: outside the repository, without the editable install.

The editable install in .venv reads everything from the working tree, so a file the wheel
forgets (reply templates, migrations, web templates, the stand-ins behind `smsbot run`)
would pass every other test and fail only for whoever runs `pip install .`. Here the wheel is
installed into a folder of its own, put first on the path, and used from a temporary
directory far from the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LOCAL = (
    ".git",
    ".venv",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "instance",
    "tests",
    "bench",
)
"""What a checkout has beside the sources: not copied for the build."""

CHECK = """
import sys
from pathlib import Path

target = Path(sys.argv[1]).resolve()
import app, worker, smsbot, smsbot.cli, smsbot.runner, smsbot.web
from smsbot import migrate, templates
assert "standins" not in sys.modules, "the product imports its stand-ins at import time"
import standins, standins.demo, standins.demo_history, standins.twilio

for module in (smsbot, standins, templates, migrate, app):
    assert target in Path(module.__file__).resolve().parents, module.__file__
assert templates.ROOT.is_dir() and target in templates.ROOT.resolve().parents, templates.ROOT

reply = templates.render("opt_out")
assert "СТАРТ" in reply.text and reply.measure.segments <= reply.budget, reply
assert len(templates.names("ru")) == len(list((templates.ROOT / "ru").glob("*.txt"))) > 10

versions = sorted(p.name for p in (migrate.MIGRATIONS / "versions").glob("*.py"))
assert (migrate.MIGRATIONS / "env.py").is_file() and versions, migrate.MIGRATIONS
migrate.upgrade("sqlite:///" + sys.argv[2])

web = Path(smsbot.web.__file__).parent
assert list((web / "templates").rglob("*.html")) and list((web / "static").iterdir()), web
print("ok", len(versions), "migrations")
"""


def test_the_wheel_carries_everything_it_reads_at_run_time(tmp_path: Path) -> None:
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    # From a clean copy: setuptools builds in the source tree, and a build/ left there from an
    # earlier layout would slip stale files into the wheel. Offline: the setuptools the [test]
    # extra puts in .venv builds it, not a download.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*LOCAL))
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)], check=True, timeout=300)  # fmt: skip
    [wheel] = wheels.glob("smsbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "smsbot/templates_sms/ru/opt_out.txt" in names
    assert "standins/__init__.py" in names
    assert not any(n.startswith("tests/") for n in names)
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300)  # fmt: skip

    # The wheel's copy comes first on the path; .venv still supplies the dependencies.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSBOT_", "DATABASE_", "REDIS_", "TWILIO_", "PUBLIC_"))}  # fmt: skip
    env |= {
        "PYTHONPATH": os.pathsep.join([str(target), env.get("PYTHONPATH", "")]),
        "SMSBOT_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    run = {"cwd": elsewhere, "env": env, "capture_output": True, "text": True, "timeout": 120}

    checked = subprocess.run([sys.executable, "-c", CHECK, str(target), str(tmp_path / "db.sqlite")], **run)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok")

    config = subprocess.run([str(target / "bin" / "smsbot"), "check-config"], **run)
    assert config.returncode == 0, config.stderr
    assert "database:" in config.stdout
