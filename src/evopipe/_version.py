"""The package version (one place, read by the package and the journal)."""

__version__ = "0.1.0"
