"""The closest-idle baseline: what a control room does by hand.

Incidents are served in priority order, then oldest first (``opened_at``); each requirement
slot takes the nearest free capable ``available`` unit. Units already committed to an
incident count towards its requirements first. It never pre-empts and never looks ahead,
which is exactly what the optimal policy is measured against.
"""

from __future__ import annotations

import numpy as np

from planner.candidates import ArcKind, Candidates


def closest_idle_selection(cand: Candidates, *, order: list[int]) -> list[int]:
    """Chosen arc indices, serving incidents in ``order`` (indices into the problem)."""
    used_units: set[int] = set()
    chosen: list[int] = []
    remaining = [group.capacity for group in cand.groups]
    groups_of: dict[int, list[int]] = {}
    for g, group in enumerate(cand.groups):
        groups_of.setdefault(group.incident, []).append(g)
    for g in range(len(cand.groups)):
        for a in np.flatnonzero((cand.group == g) & (cand.kind == ArcKind.COMMITTED)):
            u = int(cand.unit[a])
            if remaining[g] > 0 and u not in used_units:
                used_units.add(u)
                chosen.append(int(a))
                remaining[g] -= 1
    new = cand.kind == ArcKind.NEW
    for i in order:
        for g in groups_of.get(i, []):
            if remaining[g] == 0:
                continue
            arcs = np.flatnonzero(new & (cand.group == g))
            for a in arcs[np.lexsort((cand.unit[arcs], cand.eta_s[arcs]))]:
                u = int(cand.unit[a])
                if u in used_units:
                    continue
                used_units.add(u)
                chosen.append(int(a))
                remaining[g] -= 1
                if remaining[g] == 0:
                    break
    return chosen
