"""The what-if simulator: scenarios, deployment and fleets, demand, the simulated world that drives
the live engine on a simulated clock, metrics and planners' reports.

It may import ``planner.centre`` and everything below it; never review or cli.
"""
