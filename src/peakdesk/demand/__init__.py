"""Demand: intensity profiles, NHPP arrivals and conversation attributes."""
