"""Planning: restart rules, eligibility, the request builder and the pure planner."""
