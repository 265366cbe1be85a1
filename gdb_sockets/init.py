"""Load gdb_sockets into gdb: put ``source /path/to/gdb_sockets/init.py`` in ~/.gdbinit.

The package is imported from the directory this file is in, never from
sys.path, so no other copy (or a file planted in the current directory)
can stand in for it.  Sourcing this file again reloads nothing and
re-registers the same commands.

gdb often runs as root: before importing anything, the package's files and
the directories above them are checked, and loading is refused if a user
other than root or the one running gdb could have changed them.
"""

import importlib.util
import os
import stat
import sys

import gdb


def _unsafe_reason(path, trusted_uids):
    """Why another user could change ``path``, or None if nobody else can."""
    st = os.stat(path)
    if st.st_uid not in trusted_uids:
        return "%s is owned by uid %d" % (path, st.st_uid)
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        # A sticky directory (/tmp) lets others add entries, not replace ours.
        if not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
            return "%s is writable by group or others" % path
    return None


def _code_paths(package_dir):
    """Every folder of the package and every file Python may load from it.

    Python loads the compiled .pyc from a __pycache__ when it is newer:
    those folders and everything in them count as code too.
    """
    paths = []
    for folder, subfolders, files in os.walk(package_dir):
        subfolders.sort()
        paths.append(folder)
        cache = os.path.basename(folder) == "__pycache__"
        paths.extend(os.path.join(folder, name) for name in sorted(files)
                     if cache or name.endswith(".py"))
    return paths


def _check_trusted(package_dir):
    trusted = {0, os.geteuid()}
    paths = _code_paths(package_dir)
    parent = os.path.dirname(package_dir)
    while True:
        paths.append(parent)
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    for path in paths:
        reason = _unsafe_reason(path, trusted)
        if reason:
            raise _NotLoaded(
                "gdb_sockets: not loaded: %s, so it could be made to run code as "
                "this user; fix with 'chmod go-w' / 'chown' or install the "
                "package somewhere only you can write" % reason)


def _load(package_dir):
    loaded = sys.modules.get("gdb_sockets")
    if loaded is not None:
        if os.path.dirname(os.path.realpath(loaded.__file__)) == package_dir:
            return loaded
        raise _NotLoaded("gdb_sockets: not loaded: another copy is already loaded from %s"
                         % os.path.dirname(loaded.__file__))
    spec = importlib.util.spec_from_file_location(
        "gdb_sockets", os.path.join(package_dir, "__init__.py"),
        submodule_search_locations=[package_dir])
    module = importlib.util.module_from_spec(spec)
    sys.modules["gdb_sockets"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["gdb_sockets"]
        raise
    return module


class _NotLoaded(Exception):
    """A reason not to load, said as a message (a sourced script that raises
    gets a Python traceback printed, even for gdb.GdbError)."""


def _main():
    package_dir = os.path.dirname(os.path.realpath(__file__))
    try:
        _check_trusted(package_dir)
        _load(package_dir)
    except _NotLoaded as e:
        gdb.write("%s\n" % e, gdb.STDERR)
        return
    from gdb_sockets import commands
    commands.register()


_main()
