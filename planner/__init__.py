"""dispatch-planner: optimisation-based resource dispatch for contact centres and control rooms."""

__version__ = "0.1.0"
