"""Marketplace chat metrics: pure, vectorised functions over a message log.

This package never imports the engine: simulated and real logs alike reach it
as a :class:`~peakdesk.rules.messages.MessageLog`.
"""
