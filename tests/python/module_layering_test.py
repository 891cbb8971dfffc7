#!/usr/bin/python3
"""The module layering check (scripts/check-modules) against the real tree and planted faults.

The real source tree must pass. Copies of it with one planted fault must fail, naming the file
and the rule broken: an upward include (core including a runtime header), a sideways include
(net including a server header), a source file in a folder no module owns, and a table with a
cycle. An allowed include planted the same way (runtime including a core header) must pass, so
the check is not failing for an unrelated reason.

usage: module_layering_test.py --cli BUILD/edgeinfer --source SOURCE_DIR
Prints 'N passed, M failed' and exits non-zero on any failure.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

RESULTS = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        RESULTS["passed"] += 1
        print(f"[  OK  ] {name}")
    else:
        RESULTS["failed"] += 1
        print(f"[ FAIL ] {name} {detail}")


def run_check(script, table, root):
    r = subprocess.run([sys.executable, script, "--table", table, "--root", root],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def copy_tree(source, dest):
    shutil.copytree(os.path.join(source, "src"), os.path.join(dest, "src"))


def plant(root, rel, line):
    path = os.path.join(root, rel)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(line + "\n" + text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--source", required=True)
    args = parser.parse_args()
    script = os.path.join(args.source, "scripts", "check-modules")
    table = os.path.join(os.path.dirname(os.path.abspath(args.cli)), "modules.txt")
    if not os.path.isfile(table):
        print(f"no module table at {table} (configure with CMake first)")
        return 1

    rc, out = run_check(script, table, args.source)
    check("the source tree respects the layering", rc == 0, out)

    cases = [
        ("upward include", "src/core/units.cc", '#include "runtime/local_session.h"', 1,
         ["src/core/units.cc:1", "module 'core'", "runtime/local_session.h", "module 'runtime'"]),
        ("sideways include", "src/net/codec.cc", '#include "server/scheduler.h"', 1,
         ["src/net/codec.cc:1", "module 'net'", "module 'server'"]),
        ("backend includes its registry", "src/backend/reference_backend.cc",
         '#include "backend/registry.h"', 1, ["module 'backend'", "module 'backend_registry'"]),
        ("allowed include", "src/runtime/offload_config.cc", '#include "core/units.h"', 0, []),
    ]
    for name, rel, line, want_rc, want_text in cases:
        with tempfile.TemporaryDirectory() as tmp:
            copy_tree(args.source, tmp)
            plant(tmp, rel, line)
            rc, out = run_check(script, table, tmp)
            ok = rc == want_rc and all(t in out for t in want_text)
            check(f"{name} ({rel}) gives exit {want_rc}", ok, f"exit {rc}: {out}")

    with tempfile.TemporaryDirectory() as tmp:
        copy_tree(args.source, tmp)
        os.makedirs(os.path.join(tmp, "src", "orphan"))
        with open(os.path.join(tmp, "src", "orphan", "x.cc"), "w") as f:
            f.write("int x;\n")
        rc, out = run_check(script, table, tmp)
        check("a file no module owns fails", rc == 1 and "src/orphan/x.cc" in out, out)

    with tempfile.TemporaryDirectory() as tmp:
        cyclic = os.path.join(tmp, "modules.txt")
        with open(cyclic, "w") as f:
            f.write("core src/core/ ir\nir src/ir/ core\n")
        rc, out = run_check(script, cyclic, args.source)
        check("a cyclic table fails", rc == 1 and "cycle" in out, out)

    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
