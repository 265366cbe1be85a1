"""python3 -m gdb_sockets: the command line (cli.py); no gdb."""

import sys

from gdb_sockets.cli import main

if __name__ == "__main__":
    sys.exit(main())
