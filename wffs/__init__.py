"""wffs: mount workflow servers as directories."""

__version__ = "0.1.0"
