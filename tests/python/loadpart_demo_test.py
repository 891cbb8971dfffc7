#!/usr/bin/python3
"""Smoke test of the README demo's driver: `bench_loadpart --demo`, cut down to one small model,
one request per phase and a light load, so that it takes seconds. It checks what a newcomer sees:
exit status 0, progress on stderr, and one table with a row per (model, phase) whose local,
remote, auto-noload and auto columns are positive latencies and whose cut columns name a cut.

The latencies themselves are not judged here (bench_loadpart and docs/benchmarks.md do that);
this test guards the demo against breaking.

Skipped (exit 77) when bench_loadpart was not built next to the CLI, and under sanitizers
(EDGEINFER_SANITIZED=1), where the device at 0.1 core makes it minutes long.

usage: loadpart_demo_test.py --cli BUILD/edgeinfer --source SOURCE_DIR
"""
import argparse
import os
import re
import subprocess
import sys

SKIP = 77


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--source", required=True)
    args = parser.parse_args()
    bench = os.path.join(os.path.dirname(os.path.abspath(args.cli)), "bench_loadpart")
    if not os.access(bench, os.X_OK):
        print(f"skipped: {bench} not built (EDGEINFER_BUILD_BENCH off)")
        return SKIP
    if os.environ.get("EDGEINFER_SANITIZED") == "1":
        print("skipped: sanitizer build")
        return SKIP
    command = [bench, "--demo", "--cli", args.cli, "--models", "squeezenet1.1",
               "--requests", "1", "--bandwidth", "50", "--heavy-clients", "2",
               "--load-model", "squeezenet1.1", "--settle", "1", "--settle-ms", "0",
               "--device-cores", "0.5"]
    print("running:", " ".join(command), flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        print("[ FAIL ] bench_loadpart --demo did not finish within 240 s")
        return 1
    failures = []
    if done.returncode != 0:
        failures.append(f"exit status {done.returncode}")
    if "== squeezenet1.1" not in done.stderr or "== starting the edge server" not in done.stderr:
        failures.append("no progress lines on stderr")
    rows = [line for line in done.stdout.splitlines() if line.startswith("| squeezenet1.1 |")]
    phases = []
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        # model | load | local | remote | auto-noload | auto | auto vs noload | auto's cut | noload's
        if len(cells) != 9:
            failures.append(f"row with {len(cells)} cells: {row}")
            continue
        phases.append(cells[1].split(" ")[0])
        for name, value in zip(["local", "remote", "auto-noload", "auto"], cells[2:6]):
            try:
                if not float(value) > 0:
                    failures.append(f"{cells[1]}: {name} latency {value} is not positive")
            except ValueError:
                failures.append(f"{cells[1]}: {name} latency '{value}' is not a number")
        for name, value in zip(["auto", "auto-noload"], cells[7:9]):
            if not re.match(r"^(local|remote|split:\d+) x\d+", value):
                failures.append(f"{cells[1]}: {name}'s cut '{value}' names no cut")
    if phases != ["idle", "heavy"]:
        failures.append(f"phases {phases}, expected idle and heavy")
    if "failed requests" not in done.stdout or " 0 failed requests" not in done.stdout:
        failures.append("requests failed (see the line under the table)")
    if failures:
        print("stdout:\n" + done.stdout + "\nstderr:\n" + done.stderr[-4000:])
        for f in failures:
            print("[ FAIL ]", f)
        return 1
    print("[  OK  ] bench_loadpart --demo: table with idle and heavy rows, 0 failed requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
