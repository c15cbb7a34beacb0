"""Robustness claims about image classifiers, as pytest tests.

Importing the package is cheap and never imports torch: the pytest plugin loads it in every
session, and `pytest --help` must stay fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
