"""Exact numerical oracles (test-only) that the peakdesk simulation engine is checked against.

These modules are written independently of ``peakdesk.engine`` and ``peakdesk.analytic``: they
share no code and no formulas with them. Each module's docstring states the model it solves;
that statement is the documentation of what the engine is claimed to be.

Modules
-------
parallel_chain
    Exact per-agent chain, PARALLEL (processor-sharing) discipline, least-loaded routing.
balanced_chain
    Birth-death chain, parallel discipline with an idealised evenly-balancing router, plus
    service levels from an absorbing chain.
sequential_chain
    Exact chain for small systems, SEQUENTIAL (one reply at a time, oldest first) discipline.
forward_equations
    Time-varying M_t/M/s_t+M at concurrency 1 with staffing changes (hand back / handover),
    solved by the Kolmogorov forward equations.

Import from the modules (``from oracles.parallel_chain import parallel_chain``); the package
re-exports nothing, so each module name stays bound to its module.
"""
