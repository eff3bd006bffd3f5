"""The closest-idle baseline: what a control room does by hand.

Incidents are served in priority order, then oldest first (``opened_at``); each requirement
slot takes the nearest free capable ``available`` unit. Units already committed to an
incident count towards its requirements first. It never pre-empts and never looks ahead,
which is exactly what the optimal policy is measured against.
"""

from __future__ import annotations

import numpy as np

from planner.dispatch.candidates import ArcKind, Candidates, build_pools


def closest_idle_selection(cand: Candidates, *, order: list[int]) -> list[int]:
    """Chosen arc indices, serving incidents in ``order`` (indices into the problem)."""
    used_units: set[int] = set()
    chosen: list[int] = []
    remaining = [group.capacity for group in cand.groups]
    groups_of: dict[int, list[int]] = {}
    for g, group in enumerate(cand.groups):
        groups_of.setdefault(group.incident, []).append(g)
    for a in np.flatnonzero(cand.kind == ArcKind.COMMITTED).tolist():
        g, u = int(cand.group[a]), int(cand.unit[a])
        if remaining[g] > 0 and u not in used_units:
            used_units.add(u)
            chosen.append(a)
            remaining[g] -= 1
    pools = build_pools(cand)
    for i in order:
        for g in groups_of.get(i, []):
            if remaining[g] == 0:
                continue
            pool = pools.of(g)
            for a, u, kind in zip(
                pool.tolist(), cand.unit[pool].tolist(), cand.kind[pool].tolist(), strict=True
            ):
                if kind != ArcKind.NEW or u in used_units:
                    continue
                used_units.add(u)
                chosen.append(a)
                remaining[g] -= 1
                if remaining[g] == 0:
                    break
    return chosen
