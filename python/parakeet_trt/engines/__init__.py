"""Engines the Python package supplies to the C++ core."""
