"""The package version (also the listener version sent in the hello)."""

__version__ = "0.1.0"
