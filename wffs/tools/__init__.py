"""Tools for operators that work on a mounted tree: backups and grep (console commands)."""
