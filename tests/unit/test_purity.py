"""The pure modules never import gdb (they test under plain Python)."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PURE = ["model", "errors",
        "kernel.procfs", "kernel.procnet", "kernel.sockdiag", "kernel.netns",
        "kernel.fd_copies", "kernel.remote_proc", "kernel.sockopt", "kernel.syscalls_x86_64",
        "listing.join", "listing.diag",
        "view.notes", "view.waiters", "view.holders", "view.filters", "view.options",
        "view.render", "view.shutdown_report",
        "actions.elf", "actions.libc_symbols", "actions.pidfd_copy"]

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
