#!/usr/bin/env python3
"""Measure the Lambda binary as Lambda would run it: IAM calls per event, CPU time, peak RSS.

Runs `persona-role-lambda` against a local Lambda Runtime API, moto's IAM (behind a proxy that
counts every IAM call by operation) and a local ResponseURL server, all on 127.0.0.1, then
feeds it the sample events of every persona (Create, Update, Delete) and a heaviest-case role
(all activities, 20 values of every parameter, VPC and KMS: 13 own managed policies). The
numbers behind MemorySize and Timeout in template.yaml (docs/deploy.md, "Sizing").

    scripts/install-test-tools                      # moto, in .venv
    cargo build --release --bin persona-role-lambda
    .venv/bin/python scripts/measure-lambda.py [BINARY]    # default target/release/persona-role-lambda

Sets RESPONSE_URL_ALLOW_LOOPBACK=true for the binary (answers go to the local server); the
deployed function never has it.
"""
import collections
import copy
import http.server
import json
import os
import pathlib
import queue
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def reply(self, status, data=b"", headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start(handler):
    server = Server(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


calls, calls_lock = [], threading.Lock()
answers, events, results = queue.Queue(), queue.Queue(), queue.Queue()
moto_port = free_port()


class IamProxy(Quiet):
    def do_POST(self):
        data = self.body()
        action = urllib.parse.parse_qs(data.decode()).get("Action", ["?"])[0]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        request = urllib.request.Request(f"http://127.0.0.1:{moto_port}{self.path}", data=data, headers=headers)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request) as r:
                status, out, out_headers = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, out, out_headers = e.code, e.read(), e.headers
        with calls_lock:
            calls.append((action, time.perf_counter() - started))
        keep = [(k, v) for k, v in out_headers.items() if k.lower() in ("content-type", "x-amzn-requestid")]
        self.reply(status, out, keep)


class ResponseUrl(Quiet):
    def do_PUT(self):
        answers.put(json.loads(self.body()))
        self.reply(200)


class RuntimeApi(Quiet):
    def do_GET(self):
        event = events.get()
        if event is None:
            time.sleep(3600)
        data = json.dumps(event).encode()
        self.reply(200, data, [
            ("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4())),
            ("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 300) * 1000))),
            ("Lambda-Runtime-Invoked-Function-Arn", f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:persona-role"),
            ("Content-Type", "application/json"),
        ])

    def do_POST(self):
        results.put((self.path, self.body()))
        self.reply(202)


def proc_cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_kb(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def heavy_properties(n):
    """Custom persona, every activity, n values of every parameter."""
    arn = f"arn:{PARTITION}"
    values = {
        "PassRoles": lambda i: f"{arn}:iam::{ACCOUNT}:role/service-role/sagemaker-compute-{i:02}",
        "S3Buckets": lambda i: f"ml-team-{i:02}-datasets",
        "EcrRepositories": lambda i: f"{arn}:ecr:{REGION}:{ACCOUNT}:repository/ml/training-{i:02}",
        "AthenaWorkgroups": lambda i: f"analytics-{i:02}",
        "GlueDatabases": lambda i: f"feature_store_{i:02}",
        "VpcSubnets": lambda i: f"subnet-0a1b2c3d4e5f607{i:02}",
        "VpcSecurityGroups": lambda i: f"sg-0a1b2c3d4e5f607{i:02}",
        "DataKmsKeys": lambda i: f"{arn}:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890{i:02}",
        "VolumeKmsKeys": lambda i: f"{arn}:kms:{REGION}:{ACCOUNT}:key/9876fedc-12ab-34cd-56ef-1234567890{i:02}",
        "KendraIndexes": lambda i: f"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8{i:02}",
        "MlflowTrackingServers": lambda i: f"{arn}:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/team-{i:02}",
    }
    properties = {"Persona": "Custom", "RoleNameSuffix": "heavy", "MaxManagedPolicies": "20"}
    properties["Activities"] = [
        "access-required-aws-services", "run-studio-apps", "manage-ml-jobs", "manage-models",
        "manage-endpoints", "manage-pipelines", "manage-experiments", "search-visualize-experiments",
        "manage-model-monitoring", "s3-full-access", "s3-bucket-access", "query-athena-workgroups",
        "manage-glue-tables", "canvas-core-access", "canvas-data-prep", "canvas-ai-services",
        "canvas-mlops", "canvas-kendra-access", "use-mlflow", "manage-mlflow",
        "mlflow-aws-services-access", "run-studio-emr-serverless"]
    for name, make in values.items():
        properties[name] = [make(i) for i in range(n)]
    return properties


def event_sequence():
    load = lambda name: (name, json.loads((ROOT / "events" / f"{name}.json").read_text()))
    personas = ["compute", "data-scientist", "mlops", "custom"]
    sequence = [load(f"{p}-create") for p in personas] + [load(f"{p}-update") for p in personas]
    base = json.loads((ROOT / "events/data-scientist-create.json").read_text())

    def heavy(kind, n, old=None):
        event = copy.deepcopy(base)
        event.update(RequestType=kind, LogicalResourceId="Heavy", RequestId=f"heavy-{kind.lower()}")
        event.pop("OldResourceProperties", None)
        event["ResourceProperties"] = {"ServiceToken": base["ServiceToken"], **heavy_properties(n)}
        if old:
            event["OldResourceProperties"] = {"ServiceToken": base["ServiceToken"], **heavy_properties(old)}
        if kind != "Create":
            event["PhysicalResourceId"] = "sagemaker-heavy"
        return event

    sequence += [("heavy-create (20 values)", heavy("Create", 20)),
                 ("heavy-update (20 -> 12 values)", heavy("Update", 12, 20)),
                 ("heavy-delete", heavy("Delete", 12))]
    return sequence + [load(f"{p}-delete") for p in personas]


def main():
    binary = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target/release/persona-role-lambda")
    moto = subprocess.Popen([str(ROOT / ".venv/bin/python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
    lambda_process = None
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/")
                break
            except OSError:
                time.sleep(0.1)
        proxy, answer_port, runtime = start(IamProxy), start(ResponseUrl), start(RuntimeApi)
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": "persona-role", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_LEVEL": "warn",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_IAM": f"http://127.0.0.1:{proxy}", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "RESPONSE_URL_ALLOW_LOOPBACK": "true",
            "PERSONA_ROLE_REQUIRED_BOUNDARY": "",
            "PERSONA_ROLE_ALLOWED_MANAGED_POLICIES": "arn:*:iam::aws:policy/AmazonSageMaker*,arn:*:iam::aws:policy/service-role/AmazonSageMaker*",
        }
        lambda_process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)
        print(f"{binary}: RSS after start {proc_peak_rss_kb(lambda_process.pid)} kB")
        print(f"{'event':32} {'answer':8} {'IAM calls':>9} {'mutating':>8} {'moto s':>6} {'CPU ms':>6}")
        failed = 0
        for name, event in event_sequence():
            event["ResponseURL"] = f"http://127.0.0.1:{answer_port}/{uuid.uuid4()}"
            with calls_lock:
                calls.clear()
            cpu = proc_cpu_seconds(lambda_process.pid)
            events.put(event)
            answer = answers.get(timeout=600)
            results.get(timeout=60)
            cpu = proc_cpu_seconds(lambda_process.pid) - cpu
            with calls_lock:
                made = list(calls)
            ops = collections.Counter(action for action, _ in made)
            mutating = sum(n for op, n in ops.items() if not op.startswith(("Get", "List")))
            print(f"{name:32} {answer['Status']:8} {len(made):9} {mutating:8} {sum(t for _, t in made):6.2f} {cpu * 1000:6.0f}"
                  + ("" if answer["Status"] == "SUCCESS" else f"  {answer.get('Reason')}"))
            failed += answer["Status"] != "SUCCESS"
        print(f"peak RSS {proc_peak_rss_kb(lambda_process.pid)} kB, CPU {proc_cpu_seconds(lambda_process.pid):.2f} s in all")
        return 1 if failed else 0
    finally:
        if lambda_process:
            lambda_process.kill()
        moto.kill()


if __name__ == "__main__":
    sys.exit(main())
