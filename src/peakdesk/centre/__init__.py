"""Outsourcing centres: one team, many client shops, each on its own platform and clock."""
