#!/usr/bin/python3
"""Checks deploy/ as far as a machine without Kubernetes allows.

Every manifest parses; the container args of the KServe ServingRuntime and of the plain
Deployment use only flags `edgeinfer serve --help` lists, and their ports, probes, Service and
HPA agree with each other; the Dockerfile is Debian 12 with scripts/setup's apt packages and
its CMD flags exist. Then the real server is started with each manifest's args (ports made
free, the repository a temporary directory): the probe paths answer 200 and /metrics carries
the metric the HPA scales on.

usage: deploy_manifests_test.py --cli BUILD/edgeinfer --source SOURCE_DIR
"""
import argparse
import glob
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

RESULTS = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    RESULTS["passed" if condition else "failed"] += 1
    print(f"[  OK  ] {name}" if condition else f"[ FAIL ] {name} {detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flag_value(args, flag):
    return args[args.index(flag) + 1] if flag in args else None


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def serve_flags(cli):
    text = subprocess.run([cli, "serve", "--help"], capture_output=True, text=True,
                          check=True).stdout
    return set(re.findall(r"--[a-z][a-z0-9-]*", text))


def start_with(cli, args, repository):
    """Runs `edgeinfer ARGS` with free ports and `repository`; returns (process, http port)."""
    args = list(args)
    http_port, grpc_port = free_port(), free_port()
    args[args.index("--http") + 1] = f"127.0.0.1:{http_port}"
    args[args.index("--grpc") + 1] = f"127.0.0.1:{grpc_port}"
    args[args.index("--repository") + 1] = repository
    proc = subprocess.Popen([cli] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    line = proc.stdout.readline()
    return proc, http_port, line


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        return None, str(e)


def check_container(name, container, flags, cli, hpa_metric):
    args = container["args"]
    check(f"{name}: runs 'serve'", args[0] == "serve", args)
    unknown = [a for a in args if a.startswith("--") and a not in flags]
    check(f"{name}: every flag is in 'edgeinfer serve --help'", not unknown, unknown)
    http = port_of(flag_value(args, "--http"))
    ports = [p["containerPort"] for p in container["ports"]]
    check(f"{name}: the HTTP port is a container port", http in ports, (http, ports))
    for probe, path in (("livenessProbe", "/v2/health/live"),
                        ("readinessProbe", "/v2/health/ready")):
        get_spec = container[probe]["httpGet"]
        check(f"{name}: {probe} is {path} on the HTTP port",
              get_spec["path"] == path and get_spec["port"] == http, get_spec)
    with tempfile.TemporaryDirectory() as repo:
        proc, port, line = start_with(cli, args, repo)
        try:
            check(f"{name}: the server starts with these args", "listening" in line, line)
            for probe in ("livenessProbe", "readinessProbe"):
                status, _ = get(port, container[probe]["httpGet"]["path"])
                check(f"{name}: {probe} answers 200", status == 200, status)
            status, text = get(port, "/metrics")
            check(f"{name}: /metrics has {hpa_metric}",
                  status == 200 and re.search(rf"^{hpa_metric} \d+$", text, re.M) is not None,
                  text[-300:])
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return ports


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--source", required=True)
    opts = parser.parse_args()
    deploy = os.path.join(opts.source, "deploy")
    docs = {}
    for path in sorted(glob.glob(os.path.join(deploy, "**", "*.yaml"), recursive=True)):
        try:
            loaded = [d for d in yaml.safe_load_all(open(path)) if d is not None]
            check(f"{os.path.relpath(path, opts.source)} parses", len(loaded) > 0)
            for d in loaded:
                docs[d["kind"]] = d
        except yaml.YAMLError as e:
            check(f"{os.path.relpath(path, opts.source)} parses", False, e)
    for kind in ("ServingRuntime", "InferenceService", "Deployment", "Service",
                 "HorizontalPodAutoscaler"):
        check(f"a {kind} is defined", kind in docs)
    flags = serve_flags(opts.cli)
    hpa = docs["HorizontalPodAutoscaler"]
    metric = hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]

    runtime = docs["ServingRuntime"]
    isvc = docs["InferenceService"]
    check("the InferenceService uses the ServingRuntime",
          isvc["spec"]["predictor"]["model"]["runtime"] == runtime["metadata"]["name"])
    fmt = isvc["spec"]["predictor"]["model"]["modelFormat"]["name"]
    check("the runtime supports the model format",
          fmt in [f["name"] for f in runtime["spec"]["supportedModelFormats"]])
    rt_container = runtime["spec"]["containers"][0]
    check("the runtime serves KServe's model mount",
          flag_value(rt_container["args"], "--repository") == "/mnt/models")
    check_container("ServingRuntime", rt_container, flags, opts.cli, metric)

    deployment = docs["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = check_container("Deployment", container, flags, opts.cli, metric)
    grpc = port_of(flag_value(container["args"], "--grpc"))
    check("Deployment: the gRPC port is a container port", grpc in ports, (grpc, ports))
    service = docs["Service"]
    check("the Service is headless", service["spec"].get("clusterIP") == "None")
    check("the Service selects the Deployment's pods",
          service["spec"]["selector"].items() <=
          deployment["spec"]["template"]["metadata"]["labels"].items())
    check("the Service's target ports are the container ports",
          sorted(p["targetPort"] for p in service["spec"]["ports"]) == sorted(ports))
    check("the HPA scales the Deployment",
          hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"] and
          hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment")
    mount = container["volumeMounts"][0]["mountPath"]
    check("the Deployment serves its mounted repository",
          flag_value(container["args"], "--repository") == mount)

    dockerfile = open(os.path.join(deploy, "Dockerfile")).read()
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    check("the image is Debian 12", froms and all(f.startswith("debian:12") for f in froms), froms)
    check("both stages install scripts/setup's apt packages",
          len(re.findall(r"^RUN .*setup --apt-only", dockerfile, re.M)) == 2)
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    cmd_args = yaml.safe_load(cmd.group(1)) if cmd else []
    unknown = [a for a in cmd_args if a.startswith("--") and a not in flags]
    check("the Dockerfile's CMD uses known flags", cmd and not unknown, unknown)
    exposed = [int(p) for p in re.findall(r"^EXPOSE (.*)$", dockerfile, re.M)[0].split()]
    check("the image exposes the Deployment's ports", sorted(exposed) == sorted(ports),
          (exposed, ports))
    check("the CMD's ports are the exposed ones",
          sorted([port_of(flag_value(cmd_args, "--http")),
                  port_of(flag_value(cmd_args, "--grpc"))]) == sorted(exposed))

    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
