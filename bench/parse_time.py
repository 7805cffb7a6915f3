"""CPU time the parser spends per message, over the parsing case table.

    .venv/bin/python bench/parse_time.py [--against main]

Runs `smsbot.parsing.parse` over every message of tests/core/parsing_cases.py, best of 9
rounds of CPU time (time.process_time, so time spent waiting for a busy CPU is not counted).
With `--against REV` the parser of that git revision runs interleaved with this one, on the
same messages, for a before/after on the same machine at the same moment (the old parser
imports this tree's other modules: danger, textnorm and the rest).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smsbot import parsing  # noqa: E402
from tests.core import parsing_cases  # noqa: E402

ROUNDS = 9
REPEATS = 5


def parser_at(revision: str):  # noqa: ANN201
    """The `parse` function of smsbot/parsing.py as it was at `revision`."""
    source = subprocess.run(
        ["git", "show", f"{revision}:smsbot/parsing.py"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "parsing_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("parsing_then", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.parse


def cpu_per_message(parse, texts: list[str]) -> float:  # noqa: ANN001
    start = time.process_time()
    for _ in range(REPEATS):
        for text in texts:
            parse(text)
    return (time.process_time() - start) / REPEATS / len(texts) * 1e6


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--against", help="a git revision whose parser to compare with")
    options = args.parse_args()
    parsers = {"this tree": parsing.parse}
    if options.against:
        parsers = {options.against: parser_at(options.against), **parsers}
    cases = parsing_cases.CASES + getattr(parsing_cases, "PHRASED_CASES", [])
    for label, texts in (
        ("old table (CASES)", [c[0] for c in parsing_cases.CASES]),
        ("whole table", [c[0] for c in cases]),
    ):
        best = dict.fromkeys(parsers, float("inf"))
        for _ in range(ROUNDS):
            for name, parse in parsers.items():
                best[name] = min(best[name], cpu_per_message(parse, texts))
        figures = ", ".join(f"{name}: {us:.1f} µs" for name, us in best.items())
        print(f"{label}, {len(texts)} messages, CPU per message: {figures}")


if __name__ == "__main__":
    main()
