"""The live control room: events, the centre state fold, the engine that re-solves on every
change, its configuration, escalation rules, incident codes, recommendations, timelines and
exports.

It may import ``planner.dispatch``, ``planner.log``, ``planner.network`` and the top-level helpers,
never sim, review or cli (and never the ``api`` package).
"""
