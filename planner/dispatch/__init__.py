"""The dispatch problem and its solvers: domain types, candidate units, exact assignment and
policies (closest-idle, optimal, coverage), explanations and the problem's JSON contract.

It may import ``planner.network`` (travel times) and the top-level helpers; it knows nothing of
the live centre, the log, HTTP or SQL.
"""
