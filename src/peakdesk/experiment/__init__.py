"""Random streams and replications."""
