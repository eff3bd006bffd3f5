"""``make demo``: the main job on the bundled data."""

from __future__ import annotations


def main() -> None:
    print("dispatch-planner demo: nothing to run yet")


if __name__ == "__main__":
    main()
