"""The dispatch problem and its solvers: domain types, candidate units, exact assignment and
policies (closest-idle, optimal, coverage), explanations, the problem's JSON contract and the one
validated model of the solver's options (used by the CLI, the API, the engine and scenarios).

It may import ``planner.network`` (travel times) and the top-level helpers; it knows nothing of
the live centre, the log, HTTP or SQL.
"""
