"""Reports: figures of simulated runs (HTML report and comparisons to come)."""
