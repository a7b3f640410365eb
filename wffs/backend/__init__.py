"""Backends: the only code that talks to a workflow server."""
