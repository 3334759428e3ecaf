"""Blockchain-anchored credential registry."""

__version__ = "0.1.0"
