"""Performance reviews of a shift from the incident log, for supervisors' coaching.

It may import ``planner.centre`` and everything below it; never sim or cli.
"""
