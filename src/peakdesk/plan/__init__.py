"""Staffing plans: choose how many agents to put on each shift pattern (integer programs)."""
