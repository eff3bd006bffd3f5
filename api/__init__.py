"""The JSON API (FastAPI): validation, auth and wiring only; every decision lives in planner."""
