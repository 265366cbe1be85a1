#!/usr/bin/env python3
"""Build gdb-sockets.pyz: the command line as one file for any host's python3.

    python3 tools/build_pyz.py [PATH]        (default: ./gdb-sockets.pyz)

The file is a zipapp, as ``python3 -m zipapp`` makes them (a ``#!``
line, then a zip of the gdb_sockets package and a ``__main__.py``), run
as ``python3 gdb-sockets.pyz PID [OPTIONS]`` (``--help`` says more).  It
needs Python 3.9 or later and nothing else: copy it to a host, run it.

The build is reproducible: the same tree gives the same bytes (entries in
sorted order, dates and modes fixed; zipapp.create_archive takes the
directory's order and each file's date, so it is not used), and a fleet
can check one checksum.  Prints the path, the size and the SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
PACKAGE = "gdb_sockets"
INTERPRETER = b"#!/usr/bin/env python3\n"
FIXED_DATE = (2000, 1, 1, 0, 0, 0)  # any date after 1980, zip's epoch
ROOT_MAIN = (b'"""gdb-sockets.pyz: python3 gdb-sockets.pyz --help."""\n'
             b"import sys\nfrom gdb_sockets.cli import main\nsys.exit(main())\n")


def sources():
    """(name in the archive, path) of every .py file of the package, sorted."""
    found = []
    for here, dirs, files in os.walk(os.path.join(REPO, PACKAGE)):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(here, name)
                found.append((os.path.relpath(path, REPO).replace(os.sep, "/"), path))
    return sorted(found)


def _entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    zf.writestr(info, data)


def build(output: str) -> str:
    """Write the pyz to ``output`` (atomically, mode 755); its SHA-256."""
    output = os.path.abspath(output)
    partial = os.path.join(os.path.dirname(output), ".%s.partial" % os.path.basename(output))
    try:
        with open(partial, "wb") as f:
            f.write(INTERPRETER)
            with zipfile.ZipFile(f, "w") as zf:
                _entry(zf, "__main__.py", ROOT_MAIN)
                for name, path in sources():
                    with open(path, "rb") as source:
                        _entry(zf, name, source.read())
        os.chmod(partial, 0o755)
        os.replace(partial, output)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    with open(output, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv) -> int:
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        sys.stderr.write("usage: python3 tools/build_pyz.py [PATH]\n")
        return 2
    output = argv[0] if argv else "gdb-sockets.pyz"
    digest = build(output)
    print("%s: %d bytes, sha256 %s" % (output, os.path.getsize(output), digest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
