#!/usr/bin/python3
"""scripts/testbed against the real kernel: namespaces, veth, tbf shaping, live rate change,
exec, down; and `edgeinfer linkem` adding delay inside the testbed.

Needs root and `ip netns`; otherwise it prints why and exits 0 (skipped). It uses its own
TESTBED_PREFIX so a testbed already up on this machine is left alone.

Rates are measured at the receiver from the first receive to the last, over 1.2 s of data at the
nominal rate (tbf's 16 KiB initial burst is under 3% of it). tbf counts whole Ethernet frames, so
TCP goodput is RATE x 1448/1514; the tolerance is 10% of that (timer and scheduling jitter on a
busy 2-core machine).

usage: testbed_test.py --cli BUILD/edgeinfer --source SOURCE_DIR
(internal roles: --role receiver|sender|echo|pingpong, run inside a namespace)
Prints 'N passed, M failed' and exits non-zero on any failure.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

# The exit code ctest reads as "skipped" (SKIP_RETURN_CODE in CMakeLists.txt).
SKIP = 77

RESULTS = {"passed": 0, "failed": 0}
GOODPUT = 1448.0 / 1514.0
DEV_ADDR, EDGE_ADDR = "10.77.0.1", "10.77.0.2"


def check(name, condition, detail=""):
    if condition:
        RESULTS["passed"] += 1
        print(f"[  OK  ] {name} {detail}")
    else:
        RESULTS["failed"] += 1
        print(f"[ FAIL ] {name} {detail}")


# ---- roles run inside a namespace ----

def role_receiver(port):
    """Accepts one connection, reads to EOF, prints the steady-state rate in bit/s."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    print("ready", flush=True)
    conn, _ = srv.accept()
    samples, total = [], 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        total += len(data)
        samples.append((time.monotonic(), total))
    # From the first receive to the last: a window inside the transfer could start just before
    # a retransmission fills a hole and count bytes that crossed the link before it.
    a, b = samples[0], samples[-1]
    print(f"rate {8.0 * (b[1] - a[1]) / (b[0] - a[0]):.0f} bytes {total}", flush=True)


def role_sender(host, port, nbytes):
    s = socket.create_connection((host, port), timeout=30)
    block = b"x" * 65536
    sent = 0
    while sent < nbytes:
        sent += s.send(block[: min(len(block), nbytes - sent)])
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()


def role_echo(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    print("ready", flush=True)
    conn, _ = srv.accept()
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)


def role_pingpong(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for i in range(7):
        t0 = time.monotonic()
        s.sendall(bytes([i]))
        if s.recv(1) != bytes([i]):
            print("rtt_ms -1")
            return
        rtts.append((time.monotonic() - t0) * 1000.0)
    print(f"rtt_ms {statistics.median(rtts):.3f}", flush=True)


# ---- the test driver ----

class Testbed:
    def __init__(self, source, prefix):
        self.script = os.path.join(source, "scripts", "testbed")
        self.env = dict(os.environ, TESTBED_PREFIX=prefix)

    def run(self, *args, check_rc=True):
        p = subprocess.run([self.script, *args], env=self.env, capture_output=True, text=True,
                           timeout=60)
        if check_rc and p.returncode != 0:
            raise RuntimeError(f"testbed {' '.join(args)}: {p.stdout}{p.stderr}")
        return p

    def spawn(self, ns, *cmd):
        return subprocess.Popen([self.script, "exec", ns, *cmd], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_line(proc, word, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if word in line:
            return line
    raise RuntimeError(f"no '{word}' line from {proc.args}")


def measure(tb, rate_bits, port):
    """Goodput from dev to edge in bit/s for ~1.2 s of data at the nominal rate."""
    nbytes = int(rate_bits / 8 * 1.2)
    receiver = tb.spawn("edge", sys.executable, __file__, "--role", "receiver",
                        "--port", str(port))
    try:
        wait_line(receiver, "ready")
        sender = tb.spawn("dev", sys.executable, __file__, "--role", "sender", "--host",
                          EDGE_ADDR, "--port", str(port), "--bytes", str(nbytes))
        line = wait_line(receiver, "rate", timeout=60)
        sender.wait(timeout=30)
        return float(line.split()[1])
    finally:
        receiver.kill()
        receiver.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli")
    ap.add_argument("--source")
    ap.add_argument("--role")
    ap.add_argument("--host")
    ap.add_argument("--port", type=int)
    ap.add_argument("--bytes", type=int)
    args = ap.parse_args()
    if args.role == "receiver":
        return role_receiver(args.port)
    if args.role == "sender":
        return role_sender(args.host, args.port, args.bytes)
    if args.role == "echo":
        return role_echo(args.port)
    if args.role == "pingpong":
        return role_pingpong(args.host, args.port)

    if os.geteuid() != 0:
        print("SKIPPED: testbed_test needs root (network namespaces and tc)")
        return SKIP
    if shutil.which("ip") is None or shutil.which("tc") is None:
        print("SKIPPED: 'ip' or 'tc' is missing (Debian package iproute2)")
        return SKIP
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        print("SKIPPED: 'ip netns' is not available here")
        return SKIP
    tb = Testbed(args.source, f"eit{os.getpid() % 100000}-")
    up = tb.run("up", "--rate", "20mbit", check_rc=False)
    if up.returncode != 0:
        tb.run("down", check_rc=False)
        if "tbf" in up.stderr or "Operation not permitted" in up.stderr:
            print(f"SKIPPED: cannot build the testbed here: {up.stderr.strip()}")
            return SKIP
        check("up", False, up.stdout + up.stderr)
        return 1
    try:
        check("up is idempotent", tb.run("up", "--rate", "20mbit", check_rc=False).returncode == 0)
        addr = tb.run("exec", "dev", "ip", "-brief", "addr").stdout
        check("exec runs in the device namespace", DEV_ADDR in addr and EDGE_ADDR not in addr,
              addr.strip())
        bad = tb.run("exec", "nowhere", "true", check_rc=False)
        check("exec names a bad namespace", bad.returncode != 0 and "dev" in bad.stderr,
              bad.stderr.strip())

        for rate in (20e6, 5e6):
            if rate != 20e6:
                tb.run("rate", f"{rate / 1e6:g}mbit")
            got = measure(tb, rate, 5201)
            want = rate * GOODPUT
            check(f"tbf holds {rate / 1e6:g} Mbit/s",
                  abs(got - want) <= 0.10 * want,
                  f"measured {got / 1e6:.2f} Mbit/s, expected {want / 1e6:.2f} +-10%")

        # linkem in the edge namespace adds the delay tbf cannot: RTT ~ 2 x 10 ms.
        echo = tb.spawn("edge", sys.executable, __file__, "--role", "echo", "--port", "9002")
        link = None
        try:
            wait_line(echo, "ready")
            link = tb.spawn("edge", args.cli, "linkem", "--listen", f"{EDGE_ADDR}:9001", "--to",
                            "127.0.0.1:9002", "--delay", "10ms")
            line = wait_line(link, "listening")
            check("linkem prints its address", f"{EDGE_ADDR}:9001" in line, line.strip())
            pp = tb.run("exec", "dev", sys.executable, __file__, "--role", "pingpong", "--host",
                        EDGE_ADDR, "--port", "9001")
            rtt = float(pp.stdout.split()[1])
            # At least 2 x delay; up to 8 ms more for scheduling and the 5 Mbit/s link.
            check("linkem adds its delay across the testbed", 20.0 <= rtt <= 28.0,
                  f"median rtt {rtt:.2f} ms")
        finally:
            for p in (link, echo):
                if p is not None:
                    p.terminate()
                    p.wait(timeout=10)
    finally:
        down = tb.run("down", check_rc=False)
        check("down", down.returncode == 0, down.stderr.strip())
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        check("down removes the namespaces", tb.env["TESTBED_PREFIX"] not in listed)
        check("down is idempotent", tb.run("down", check_rc=False).returncode == 0)

    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
