"""The pure modules never import gdb (they test under plain Python)."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PURE = ["model", "errors",
        "kernel.fd_copies", "kernel.fd_dir", "kernel.libc", "kernel.netns", "kernel.proc_task",
        "kernel.procfs", "kernel.procnet", "kernel.remote_proc", "kernel.signals", "kernel.sockdiag",
        "kernel.sockopt", "kernel.syscalls_x86_64", "kernel.keepalive", "kernel.destroy",
        "kernel.workers",
        "listing.diag", "listing.dump", "listing.exact", "listing.extended", "listing.join",
        "listing.plan", "listing.records", "listing.tables",
        "view.filters", "view.holders", "view.inspect", "view.notes", "view.options", "view.predict",
        "view.render", "view.raw_rows", "view.shutdown_report", "view.waiters", "view.remedy_report",
        "actions.elf", "actions.errno_tls", "actions.libc_symbols", "actions.link_map",
        "actions.method_choice",
        "actions.outcome", "actions.pidfd_copy", "actions.seccomp", "actions.shutdown_run",
        "actions.remedies", "actions.watchdog", "kernel.process", "cli", "__main__"]

# In a fresh interpreter: a finder that records every attempt to import gdb
# (even one guarded by try/except ImportError), then the pure modules.
_PROBE = r"""
import importlib, json, sys
attempts = []
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "gdb" or name.startswith("gdb."):
            attempts.append(name)
        return None
sys.meta_path.insert(0, Spy())
for name in %r:
    importlib.import_module("gdb_sockets." + name)
print(json.dumps({"gdb_in_modules": "gdb" in sys.modules, "attempts": attempts,
                  "loaded": sorted(m for m in sys.modules if m.startswith("gdb_sockets."))}))
"""


def test_pure_modules_do_not_import_gdb():
    out = subprocess.run([sys.executable, "-c", _PROBE % (PURE,)], cwd=REPO,
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=REPO))
    assert json.loads(out.stdout) == {
        "gdb_in_modules": False, "attempts": [],
        "loaded": sorted({"gdb_sockets." + name for name in PURE}
                         | {"gdb_sockets." + name.split(".")[0] for name in PURE if "." in name})}


def _first_docstring_line(path):
    with open(path) as f:
        text = f.read().lstrip()
    return text[3:].split("\n", 1)[0] if text.startswith('"""') else ""


def test_every_module_is_pure_or_says_it_is_gdb_glue():
    """A module that may import gdb says so on its first line; every other
    module is in PURE, so the test above covers it."""
    package = os.path.join(REPO, "gdb_sockets")
    glue, pure = set(), set()
    for folder, _subfolders, files in os.walk(package):
        for name in files:
            if not name.endswith(".py") or (folder == package and name == "init.py"):
                continue
            module = os.path.relpath(os.path.join(folder, name), package)[:-3]
            module = module.replace(os.sep, ".").replace(".__init__", "")
            if module == "__init__":
                continue
            path = os.path.join(folder, name)
            (glue if _first_docstring_line(path).startswith("gdb glue") else pure).add(module)
    packages = {name.split(".")[0] for name in PURE if "." in name}
    assert pure == set(PURE) | packages, (sorted(pure), sorted(glue))
    assert glue and not glue & set(PURE)
