"""The fuzz suite: property-based tests of every user input (see ``strategies``).

A package, so that its ``conftest`` and modules do not shadow ``tests/conftest.py``.
"""
