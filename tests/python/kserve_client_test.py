#!/usr/bin/python3
"""A standard KServe v2 client against the real `edgeinfer serve` process.

gRPC: Python stubs are generated at test time from proto/inference.proto with protoc and
grpc_python_plugin (Debian's protobuf-compiler-grpc), and driven with python3-grpcio, as any
KServe or Triton user would. HTTP/REST v2: plain urllib, JSON tensors and Triton's binary
tensor extension. Outputs are compared with `edgeinfer run` on the same input (relative L2
<= 1e-5: the same engine and kernels, only thread scheduling may differ).

usage: kserve_client_test.py --cli BUILD/edgeinfer --source SOURCE_DIR
Prints 'N passed, M failed' and exits non-zero on any failure.
"""
import argparse
import importlib
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

RESULTS = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        RESULTS["passed"] += 1
        print(f"[  OK  ] {name}")
    else:
        RESULTS["failed"] += 1
        print(f"[ FAIL ] {name} {detail}")


def rel_l2(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        return float("inf")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def start_server(cli, repo):
    proc = subprocess.Popen([cli, "serve", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0",
                             "--repository", repo, "--workers", "1", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "listening" in line:
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            return proc, fields["grpc"], fields["http"]
    proc.kill()
    raise RuntimeError("server did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # Stubs from our .proto, as a standard client would generate them.
        subprocess.run(["protoc", f"-I{args.source}/proto", f"--python_out={tmp}",
                        f"--grpc_python_out={tmp}",
                        "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                        f"{args.source}/proto/inference.proto"], check=True)
        sys.path.insert(0, tmp)
        import grpc
        pb = importlib.import_module("inference_pb2")
        pb_grpc = importlib.import_module("inference_pb2_grpc")

        repo = os.path.join(tmp, "repo")
        os.makedirs(os.path.join(repo, "squeezenet", "1"))
        model = os.path.join(repo, "squeezenet", "1", "model.onnx")
        subprocess.run([args.cli, "zoo", "squeezenet1.1", "-o", model], check=True,
                       stdout=subprocess.DEVNULL)
        rng = np.random.default_rng(5)
        x = rng.uniform(-2, 2, (1, 3, 224, 224)).astype(np.float32)
        np.save(os.path.join(tmp, "x.npy"), x)
        subprocess.run([args.cli, "run", model, "--input", "input=" + os.path.join(tmp, "x.npy"),
                        "--threads", "1", "--repeat", "1", "--save-outputs",
                        os.path.join(tmp, "local")], check=True, stdout=subprocess.DEVNULL)
        expected = np.load(os.path.join(tmp, "local", "output.npy"))

        proc, grpc_addr, http_addr = start_server(args.cli, repo)
        try:
            channel = grpc.insecure_channel(grpc_addr)
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            check("ServerLive", stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live)
            check("ServerReady", stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready)
            meta = stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=10)
            check("ServerMetadata names the server", meta.name == "edgeinfer", meta.name)
            check("ModelReady", stub.ModelReady(pb.ModelReadyRequest(name="squeezenet"),
                                                timeout=10).ready)
            mm = stub.ModelMetadata(pb.ModelMetadataRequest(name="squeezenet"), timeout=10)
            check("ModelMetadata input", [(t.name, t.datatype, list(t.shape)) for t in mm.inputs]
                  == [("input", "FP32", [1, 3, 224, 224])], str(mm.inputs))
            check("ModelMetadata output", [(t.name, t.datatype) for t in mm.outputs]
                  == [("output", "FP32")], str(mm.outputs))

            req = pb.ModelInferRequest(model_name="squeezenet", id="req-1")
            inp = req.inputs.add(name="input", datatype="FP32", shape=[1, 3, 224, 224])
            req.raw_input_contents.append(x.tobytes())
            reply = stub.ModelInfer(req, timeout=60)
            out = np.frombuffer(reply.raw_output_contents[0], np.float32).reshape(
                list(reply.outputs[0].shape))
            check("ModelInfer raw contents matches a local run", rel_l2(out, expected) <= 1e-5,
                  str(rel_l2(out, expected)))
            check("ModelInfer echoes the request id", reply.id == "req-1", reply.id)
            params = dict(reply.parameters)
            check("reply carries load parameters",
                  {"edgeinfer_queue_us", "edgeinfer_compute_us", "edgeinfer_load_factor"}
                  <= set(params), str(list(params)))

            req2 = pb.ModelInferRequest(model_name="squeezenet")
            inp = req2.inputs.add(name="input", datatype="FP32", shape=[1, 3, 224, 224])
            inp.contents.fp32_contents.extend(x.ravel().tolist())
            reply2 = stub.ModelInfer(req2, timeout=60)
            out2 = (np.frombuffer(reply2.raw_output_contents[0], np.float32)
                    if reply2.raw_output_contents else
                    np.array(reply2.outputs[0].contents.fp32_contents, np.float32))
            check("ModelInfer typed contents", rel_l2(out2, expected) <= 1e-5)

            try:
                stub.ModelInfer(pb.ModelInferRequest(model_name="nope"), timeout=10)
                check("unknown model is NOT_FOUND", False)
            except grpc.RpcError as e:
                check("unknown model is NOT_FOUND", e.code() == grpc.StatusCode.NOT_FOUND,
                      str(e.code()))

            # HTTP/REST v2.
            base = "http://" + http_addr
            with urllib.request.urlopen(base + "/v2/health/ready", timeout=10) as r:
                check("HTTP ready", r.status == 200)
            with urllib.request.urlopen(base + "/v2/models/squeezenet", timeout=10) as r:
                check("HTTP model metadata", json.load(r)["name"] == "squeezenet")
            body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32",
                                           "shape": [1, 3, 224, 224],
                                           "data": x.ravel().tolist()}]}).encode()
            hreq = urllib.request.Request(base + "/v2/models/squeezenet/infer", data=body,
                                          headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(hreq, timeout=60) as r:
                j = json.load(r)
                out3 = np.array(j["outputs"][0]["data"], np.float32)
                check("HTTP JSON infer", rel_l2(out3, expected) <= 1e-5)
            # Triton's binary tensor extension: JSON header, then raw bytes.
            header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32",
                                             "shape": [1, 3, 224, 224],
                                             "parameters": {"binary_data_size": x.nbytes}}],
                                 "outputs": [{"name": "output",
                                              "parameters": {"binary_data": True}}]}).encode()
            breq = urllib.request.Request(
                base + "/v2/models/squeezenet/infer", data=header + x.tobytes(),
                headers={"Content-Type": "application/octet-stream",
                         "Inference-Header-Content-Length": str(len(header))})
            with urllib.request.urlopen(breq, timeout=60) as r:
                raw = r.read()
                hlen = int(r.headers.get("Inference-Header-Content-Length", len(raw)))
                meta4 = json.loads(raw[:hlen])
                out4 = np.frombuffer(raw[hlen:], np.float32)
                check("HTTP binary tensor infer",
                      out4.size == expected.size and rel_l2(out4, expected) <= 1e-5,
                      str(meta4)[:200])
            with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
                text = r.read().decode()
                check("Prometheus metrics count successes",
                      'nv_inference_request_success{model="squeezenet"' in text, text[:300])
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
