"""gdb glue: colours for the table, taken from gdb's own styles."""

from __future__ import annotations

import os

import gdb

_ANSI_COLOURS = {"black": 30, "red": 31, "green": 32, "yellow": 33, "blue": 34,
                 "magenta": 35, "cyan": 36, "white": 37}
_ANSI_INTENSITY = {"bold": "1", "dim": "2"}


def _gdb_style(name: str) -> str:
    """The escape sequence of one of gdb's own styles ('address', 'file'...).

    gdb 18 writes it itself (gdb.Style); gdb 17 returns a gdb.Color for the
    colour parameters; older gdbs return the colour's name.
    """
    if hasattr(gdb, "Style"):
        return gdb.Style(name).escape_sequence()
    foreground = gdb.parameter("style %s foreground" % name)
    intensity = _ANSI_INTENSITY.get(gdb.parameter("style %s intensity" % name))
    if hasattr(foreground, "escape_sequence"):
        colour = foreground.escape_sequence(True)
        return colour + ("\x1b[%sm" % intensity if intensity else "")
    colour = _ANSI_COLOURS.get(foreground)
    codes = [c for c in (intensity, str(colour) if colour else None) if c]
    return "\x1b[%sm" % ";".join(codes) if codes else ""


def _no_color_asked() -> bool:
    """NO_COLOR (no-color.org) is set and not empty.  gdb 14 and later turn
    their own styling off for it at start-up, gdb 13 does not; our table
    takes no colour under it on any gdb, even after 'set style enabled on'."""
    return bool(os.environ.get("NO_COLOR"))


def table_colorizer():
    """Colours for the table when gdb styles its own output, else None.

    Endpoints take gdb's 'address' style, so a user's 'set style address'
    applies; states are green when healthy and yellow when closing or stuck
    half-way.  gdb -batch and 'set style enabled off' turn this off.
    """
    if not gdb.parameter("style enabled") or _no_color_asked():
        return None
    styles = {"endpoint": _gdb_style("address"), "state:ok": "\x1b[32m",
              "state:trouble": "\x1b[33m", "state:unknown": "\x1b[31m"}

    def colorize(kind: str, text: str) -> str:
        start = styles.get(kind, "")
        return "%s%s\x1b[m" % (start, text) if start else text
    return colorize
