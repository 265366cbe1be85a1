"""gdb_sockets: see and safely shut down the sockets of a live process from gdb.

The package root imports nothing from gdb: the parsing, model and formatting
modules test under plain Python.  The gdb commands live in
``gdb_sockets.commands`` and are registered by ``init.py``.
"""

__version__ = "0.1.0"
