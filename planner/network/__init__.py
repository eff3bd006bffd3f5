"""Road networks and travel times: OSM build and cache, speed profiles, road and matrix regions,
snapping, closures and geometry.

The lowest layer: it may import only ``planner.errors``, ``planner.settings`` and the other
top-level helpers, never dispatch, centre, log, sim, review or cli.
"""
