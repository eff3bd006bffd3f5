"""Reviews: the sample shift (target < 2 s) and the Seattle dispatch log, imported into a
review-only log and reviewed with the same report (target: well under a minute end to end).

The plain way for comparison is reading the same export with ``csv`` alone (no log, no
review): the ratio is what the hash-chained log and the review cost on top of parsing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

from planner.centre.codes import CodeTable
from planner.centre.engine import Engine
from planner.log.incident_log import IncidentLog
from planner.review.cad_import import import_cad, seattle_mapping
from planner.review.performance import build_review, review_markdown
from planner.settings import SCENARIOS_DIR, get_settings

REPEATS = 3


def _seconds(run: object) -> float:
    start = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    seattle = get_settings().data_dir / "regions" / "seattle"
    export = seattle / "dispatch_log_2017-06.tsv.gz"
    with tempfile.TemporaryDirectory() as tmp:
        shift = f"sqlite:///{Path(tmp) / 'shift.sqlite'}"
        with IncidentLog(shift) as log:
            engine = Engine(codes=CodeTable.load(), log=log)
            for line in (SCENARIOS_DIR / "sample-shift.jsonl").read_text().splitlines():
                engine.submit(json.loads(line))
        sample = [_seconds(lambda: review_markdown(build_review(shift))) for _ in range(REPEATS)]
        imports, reviews = [], []
        for i in range(REPEATS):
            url = f"sqlite:///{Path(tmp) / f'seattle-{i}.sqlite'}"
            start = time.perf_counter()
            import_cad(export, url, seattle_mapping(seattle))
            imports.append(time.perf_counter() - start)
            start = time.perf_counter()
            review_markdown(build_review(url, tz="America/Los_Angeles"), timelines=50)
            reviews.append(time.perf_counter() - start)
        plain = [
            _seconds(
                lambda: list(
                    csv.DictReader(
                        io.StringIO(gzip.decompress(export.read_bytes()).decode()), delimiter="\t"
                    )
                )
            )
            for _ in range(REPEATS)
        ]
    med = statistics.median
    total = [a + b for a, b in zip(imports, reviews, strict=True)]
    print("| step | median s | n |")
    print("|---|---:|---:|")
    print(f"| sample shift: review + Markdown | {med(sample):.2f} | {REPEATS} |")
    print(f"| Seattle log (12,222 rows): import | {med(imports):.2f} | {REPEATS} |")
    print(f"| Seattle log: review + Markdown | {med(reviews):.2f} | {REPEATS} |")
    print(f"| Seattle log: import + review | {med(total):.2f} | {REPEATS} |")
    print(f"| plain csv read of the export | {med(plain):.2f} | {REPEATS} |")
