#!/usr/bin/env python3
"""Regenerates the protobuf golden files in this directory from the real kubectl.

Not run by the unit tests. Usage: capture.sh (or python3 capture.py [outdir]).

kubectl 1.32 POSTs `kubectl create <generator>` objects as
application/vnd.kubernetes.protobuf and never falls back to JSON (see
docs kubectl-api.md §0 trap 2, §6). This script starts a throwaway plain-HTTP
API server on 127.0.0.1 that answers just enough (/version, legacy discovery)
for kubectl to resolve the resources, then runs each case twice:
  1. `kubectl create ...`                       -> the POST body is saved as <name>.pb
  2. `kubectl create ... --dry-run=client -o json` -> stdout is saved as <name>.json
(2) is the object kubectl would have sent as JSON, serialised locally by the
same Go structs, so it is the expected decoding of (1).

A temporary HOME and KUBECONFIG isolate kubectl's discovery cache from the
user's and from other runs.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
KUBECTL = os.environ.get("KUBECTL", "kubectl")

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def res(name, singular, kind, namespaced=True, short=None):
    r = {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind,
         "verbs": VERBS}
    if short:
        r["shortNames"] = short
    return r


# group/version -> resources kubectl needs to map the generators' kinds (and
# `create role --resource=pods,deployments`) to REST paths.
GROUPS = {
    "v1": [
        res("namespaces", "namespace", "Namespace", False, ["ns"]),
        res("configmaps", "configmap", "ConfigMap", short=["cm"]),
        res("secrets", "secret", "Secret"),
        res("services", "service", "Service", short=["svc"]),
        res("serviceaccounts", "serviceaccount", "ServiceAccount", short=["sa"]),
        res("resourcequotas", "resourcequota", "ResourceQuota", short=["quota"]),
        res("pods", "pod", "Pod", short=["po"]),
    ],
    "apps/v1": [res("deployments", "deployment", "Deployment", short=["deploy"])],
    "batch/v1": [res("jobs", "job", "Job"), res("cronjobs", "cronjob", "CronJob", short=["cj"])],
    "scheduling.k8s.io/v1": [
        res("priorityclasses", "priorityclass", "PriorityClass", False, ["pc"])],
    "policy/v1": [
        res("poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", short=["pdb"])],
    "networking.k8s.io/v1": [res("ingresses", "ingress", "Ingress", short=["ing"])],
    "rbac.authorization.k8s.io/v1": [
        res("roles", "role", "Role"),
        res("rolebindings", "rolebinding", "RoleBinding"),
        res("clusterroles", "clusterrole", "ClusterRole", False),
        res("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", False),
    ],
}


def read_varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def fields(b):
    """Top-level (number, value) pairs of a protobuf message; enough to echo names."""
    i = 0
    while i < len(b):
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 2:
            n, i = read_varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, v


def echo_object(body):
    """Minimal {apiVersion, kind, metadata{name,namespace}} from a k8s protobuf body."""
    unknown = dict(fields(body[4:]))
    tm = dict(fields(unknown.get(1, b"")))
    meta = dict(fields(dict(fields(unknown.get(2, b""))).get(1, b"")))
    md = {"name": meta.get(1, b"").decode()}
    if meta.get(3):
        md["namespace"] = meta[3].decode()
    return {"apiVersion": tm.get(1, b"").decode(), "kind": tm.get(2, b"").decode(),
            "metadata": md}


class State:
    current = None  # name of the case whose POST body is expected next
    saved = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0",
                                    "platform": "linux/amd64"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [
                                        {"clientCIDR": "0.0.0.0/0",
                                         "serverAddress": "127.0.0.1:6443"}]})
        if path == "/apis":
            groups = []
            for gv in GROUPS:
                if "/" not in gv:
                    continue
                g, v = gv.split("/")
                ver = {"groupVersion": gv, "version": v}
                groups.append({"name": g, "versions": [ver], "preferredVersion": ver})
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        gv = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):]
        if gv in GROUPS:
            return self.reply(200, {"kind": "APIResourceList", "groupVersion": gv,
                                    "resources": GROUPS[gv]})
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Failure", "reason": "NotFound", "code": 404,
                         "message": "not found: " + path})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ctype = self.headers.get("Content-Type", "")
        if State.current and "protobuf" in ctype and body[:4] == b"k8s\x00":
            with open(os.path.join(OUT, State.current + ".pb"), "wb") as f:
                f.write(body)
            State.saved.append(State.current)
            return self.reply(201, echo_object(body))
        # Anything else is a surprise worth seeing (e.g. a kubectl that sends JSON).
        print("unexpected POST %s (%s): %r" % (self.path, ctype, body[:200]), file=sys.stderr)
        self.reply(415, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Failure", "reason": "UnsupportedMediaType", "code": 415,
                         "message": "capture server wants protobuf"})


def main():
    tmp = tempfile.mkdtemp(prefix="berth-pb-capture-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tls_pair():
    """A fixed cert/key kept next to the goldens so regeneration is reproducible."""
    crt, key = os.path.join(OUT, "tls.crt"), os.path.join(OUT, "tls.key")
    if not (os.path.exists(crt) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "36500",
                        "-subj", "/CN=berth.test", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
    return crt, key


def run(tmp):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    home = os.path.join(tmp, "home")
    os.makedirs(home)
    kubeconfig = os.path.join(tmp, "kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- cluster: {{server: "http://127.0.0.1:{port}"}}
  name: capture
contexts:
- context: {{cluster: capture, user: capture, namespace: default}}
  name: capture
current-context: capture
users:
- name: capture
  user: {{}}
""")
    env = dict(os.environ, HOME=home, KUBECONFIG=kubeconfig)
    env.pop("KUBERNETES_SERVICE_HOST", None)

    # A binary file (every byte value) makes ConfigMap.binaryData non-trivial.
    binfile = os.path.join(tmp, "blob.bin")
    with open(binfile, "wb") as f:
        f.write(bytes(range(256)))
    crt, key = tls_pair()

    cases = [
        ("namespace", ["namespace", "team-a"]),
        ("namespace_savecfg", ["namespace", "team-b", "--save-config"]),
        ("configmap", ["configmap", "cfg", "-n", "team-a", "--from-literal=a=1",
                       "--from-literal=greeting=hello world", f"--from-file=blob={binfile}"]),
        ("configmap_savecfg", ["configmap", "cfg2", "--from-literal=k=v", "--save-config"]),
        ("secret_generic", ["secret", "generic", "creds", "--from-literal=user=admin",
                            "--from-literal=password=s3cr3t!", "--type=Opaque"]),
        ("secret_tls", ["secret", "tls", "cert", f"--cert={crt}", f"--key={key}"]),
        ("secret_docker", ["secret", "docker-registry", "regcred",
                           "--docker-server=registry.example.com", "--docker-username=bob",
                           "--docker-password=hunter2", "--docker-email=bob@example.com"]),
        ("deployment", ["deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80"]),
        ("deployment_two_images", ["deployment", "multi", "--image=nginx",
                                   "--image=busybox:1.36"]),
        ("deployment_cmd", ["deployment", "sleeper", "--image=busybox", "--replicas=0",
                            "--", "sleep", "3600"]),
        ("service_clusterip", ["service", "clusterip", "web", "--tcp=80:8080"]),
        ("service_clusterip_none", ["service", "clusterip", "headless", "--clusterip=None",
                                    "--tcp=5432:5432"]),
        ("service_nodeport", ["service", "nodeport", "np", "--tcp=5678:8080",
                              "--node-port=30080"]),
        ("service_loadbalancer", ["service", "loadbalancer", "lb", "--tcp=443:https"]),
        ("service_externalname", ["service", "externalname", "ext",
                                  "--external-name=db.example.com"]),
        ("job", ["job", "hello", "--image=busybox", "--", "echo", "hello", "world"]),
        ("cronjob", ["cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *",
                     "--restart=OnFailure", "--", "date"]),
        ("serviceaccount", ["serviceaccount", "robot"]),
        ("quota", ["quota", "q", "--hard=cpu=1,memory=1G,pods=2,requests.storage=500m",
                   "--scopes=BestEffort,NotTerminating"]),
        ("priorityclass", ["priorityclass", "high", "--value=1000",
                           "--description=important workloads", "--preemption-policy=Never"]),
        ("priorityclass_default", ["priorityclass", "zero", "--value=0", "--global-default"]),
        ("pdb", ["poddisruptionbudget", "web-pdb", "--selector=app=web", "--min-available=50%"]),
        ("pdb_max", ["poddisruptionbudget", "db-pdb", "--selector=app in (db,cache)",
                     "--max-unavailable=1"]),
        ("ingress", ["ingress", "web", "--class=nginx",
                     "--rule=foo.com/bar=svc1:8080,tls=my-cert",
                     "--rule=bar.com/*=svc2:http", "--default-backend=defsvc:80",
                     "--annotation=nginx.ingress.kubernetes.io/rewrite-target=/"]),
        ("role", ["role", "pod-reader", "--verb=get,list,watch", "--resource=pods,deployments.apps",
                  "--resource-name=a", "--resource-name=b"]),
        ("rolebinding", ["rolebinding", "read-pods", "--role=pod-reader", "--user=alice",
                         "--group=devs", "--serviceaccount=team-a:robot"]),
        ("clusterrole", ["clusterrole", "logs", "--verb=get", "--non-resource-url=/logs/*"]),
        ("clusterrole_agg", ["clusterrole", "agg",
                             "--aggregation-rule=rbac.example.com/aggregate=true"]),
        ("clusterrolebinding", ["clusterrolebinding", "admins", "--clusterrole=cluster-admin",
                                "--group=admins"]),
    ]

    failed = []
    for name, args in cases:
        State.current = name
        base = [KUBECTL, "create"] + args
        p = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
        if p.returncode != 0 or name not in State.saved:
            failed.append(name)
            print(f"{name}: create failed: {p.stdout}{p.stderr}", file=sys.stderr)
            continue
        State.current = None
        # Flags must come before "--" (the command for job/cronjob/deployment).
        if "--" in args:
            i = args.index("--")
            dry = args[:i] + ["--dry-run=client", "-o", "json"] + args[i:]
        else:
            dry = args + ["--dry-run=client", "-o", "json"]
        p = subprocess.run([KUBECTL, "create"] + dry, env=env, capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            failed.append(name)
            print(f"{name}: dry-run failed: {p.stderr}", file=sys.stderr)
            continue
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            f.write(json.dumps(json.loads(p.stdout), indent=2, sort_keys=True) + "\n")
        print(f"{name}: ok")
    srv.shutdown()
    if failed:
        sys.exit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
