"""Run every benchmark module's ``main()``, or only those named: ``python -m bench network``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def _modules(selected: list[str]) -> list[str]:
    found = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    if not selected:
        return found
    wanted = [name if name.startswith("bench_") else f"bench_{name}" for name in selected]
    unknown = [name for name in wanted if name not in found]
    if unknown:
        sys.exit(f"error: unknown benchmark {', '.join(unknown)} (have: {', '.join(found)})")
    return wanted


def main() -> None:
    for name in _modules(sys.argv[1:]):
        print(f"\n## {name}\n", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()
