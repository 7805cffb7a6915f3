"""Summarise a py-spy `--format raw` profile (collapsed stacks): top frames by inclusive and self time.

    py-spy record -f raw -o prof.txt --pid PID --duration 20
    python bench/pyspy_top.py prof.txt [--top 30] [--match smsbot]

Inclusive = share of samples with the frame anywhere on the stack (counted once per sample);
self = share with the frame on top. Frames are "function (file:line)" as py-spy writes them,
with the line number dropped so a function's lines add up.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_LINE = re.compile(r":\d+\)$")


def frame_key(frame: str) -> str:
    frame = _LINE.sub(")", frame.strip())
    frame = re.sub(r"\(/.*?site-packages/", "(", frame)
    return re.sub(r"\(/work/[^/]+/", "(", frame)  # any worktree: /work/main, /work/wt-*


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default=None, help="only frames containing this text")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    with open(args.path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            total += n
            frames = [frame_key(x) for x in stack.split(";")]
            for key in set(frames):
                inclusive[key] += n
            own[frames[-1]] += n
    print(f"{total} samples")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n== {title} ==")
        shown = 0
        for key, n in counter.most_common():
            if args.match and args.match not in key:
                continue
            print(f"{100 * n / total:6.1f}%  {key}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
