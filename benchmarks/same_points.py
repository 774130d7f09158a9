"""Does a replayed run give the committed run's points? Compares two results.jsonl.

    python benchmarks/same_points.py REPLAYED/results.jsonl docs/reproduce/results.jsonl

Every evaluation point both files hold must agree in every field except the timings
(`*seconds*`) and `mid_batch`; a replay that stopped earlier or went further is compared
on the points it shares. Exit code 1 if any point differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def points(path: Path) -> list[dict]:
    """The file's points without timings; a torn last line (a run killed mid-append) is
    dropped, as the run folders' own reader does."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                sys.exit(f"error: {path} line {i + 1} is not JSON")
    return [{k: v for k, v in r.items() if "seconds" not in k and k != "mid_batch"}
            for r in rows]


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python benchmarks/same_points.py REPLAYED.jsonl COMMITTED.jsonl")
    replayed, committed = (points(Path(p)) for p in sys.argv[1:])
    shared = min(len(replayed), len(committed))
    for i in range(shared):
        if replayed[i].get("samples_seen") != committed[i].get("samples_seen"):
            sys.exit(f"error: point {i + 1} is at {replayed[i].get('samples_seen')} samples in "
                     f"the replay but {committed[i].get('samples_seen')} in the committed run: "
                     "the runs evaluate at different points (compare runs of the same options)")
    differing = [i for i in range(shared) if replayed[i] != committed[i]]
    print(f"points: replayed {len(replayed)}, committed {len(committed)}, compared {shared}, "
          f"differing {len(differing)}")
    for i in differing[:3]:
        keys = sorted(k for k in replayed[i].keys() | committed[i].keys()
                      if replayed[i].get(k) != committed[i].get(k))
        print(f"  point {i + 1} ({committed[i].get('samples_seen')} samples): {', '.join(keys)}")
    sys.exit(1 if differing or shared == 0 else 0)


if __name__ == "__main__":
    main()
