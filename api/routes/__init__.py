"""One thin router per domain; each handler validates, checks the role and calls planner."""
