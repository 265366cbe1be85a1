"""gdb glue: colours for the table, taken from gdb's own styles."""

from __future__ import annotations

import gdb

_ANSI_COLOURS = {"black": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34,
                 "magenta": 35, "cyan": 36, "white": 37}
_ANSI_INTENSITY = {"bold": "1", "dim": "2"}


def _gdb_style(name: str) -> str:
    """The escape sequence of one of gdb's own styles ('address', 'file'...)."""
    colour = _ANSI_COLOURS.get(gdb.parameter("style %s foreground" % name))
    intensity = _ANSI_INTENSITY.get(gdb.parameter("style %s intensity" % name))
    codes = [c for c in (intensity, str(colour) if colour else None) if c]
    return "\x1b[%sm" % ";".join(codes) if codes else ""


def table_colorizer():
    """Colours for the table when gdb styles its own output, else None.

    Endpoints take gdb's 'address' style, so a user's 'set style address'
    applies; states are green when healthy and yellow when closing or stuck
    half-way.  gdb -batch and 'set style enabled off' turn this off.
    """
    if not gdb.parameter("style enabled"):
        return None
    styles = {"endpoint": _gdb_style("address"), "state:ok": "\x1b[32m",
              "state:trouble": "\x1b[33m", "state:unknown": "\x1b[31m"}

    def colorize(kind: str, text: str) -> str:
        start = styles.get(kind, "")
        return "%s%s\x1b[m" % (start, text) if start else text
    return colorize
