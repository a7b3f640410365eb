"""How wffs writes a time, everywhere (status files, event logs, .att of Cylc tasks): ISO 8601, UTC."""

from __future__ import annotations

import time


def iso_utc(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def iso_utc_or(when: float, none: str) -> str:
    """iso_utc(when), or `none` where there is no time to show (0)."""
    return iso_utc(when) if when else none
