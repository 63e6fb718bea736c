#!/usr/bin/env python3
"""Drives the test bed's API server faster than kubectl (whose client-side rate limit
creates about 10 pods a second here): many keep-alive connections in parallel.

  kube-load.py KUBECONFIG nodes K              K extra kwok nodes scale-node-N (podCIDR 10.(100+N).0.0/16)
  kube-load.py KUBECONFIG create PODS NSS      NSS namespaces scale-NNN, PODS pods over them
  kube-load.py KUBECONFIG running PODS SECS    wait until PODS scale pods are Running
  kube-load.py KUBECONFIG churn RATE SECS PODS NSS   label patches at RATE per second
  kube-load.py KUBECONFIG churn-pods RATE SECS PODS NSS
                                               pods deleted and created at RATE per second
                                               (half each: the count stays the same)
  kube-load.py KUBECONFIG requests             apiserver_request_total for pods, by verb
  kube-load.py KUBECONFIG cleanup NSS K        delete the namespaces and nodes (not waited for)

Pods: one in ten with an Istio sidecar, one in ten Linkerd's, one in ten Kuma's; owned by
nobody, spread over the scale nodes (spec.nodeName: the scheduler is not the subject).
"""
import base64, http.client, json, re, ssl, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

WORKERS = 32
local = threading.local()


def load_kubeconfig(path):
    text = open(path).read()
    get = lambda k: re.search(rf"{k}:\s*(\S+)", text).group(1)
    server = get("server")
    host, port = re.match(r"https://([^:/]+):(\d+)", server).groups()
    files = {}
    for k in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
        f = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")
        f.write(base64.b64decode(get(k)))
        f.close()
        files[k] = f.name
    ctx = ssl.create_default_context(cafile=files["certificate-authority-data"])
    ctx.load_cert_chain(files["client-certificate-data"], files["client-key-data"])
    return host, int(port), ctx


def conn():
    if not hasattr(local, "c"):
        local.c = http.client.HTTPSConnection(HOST, PORT, context=CTX, timeout=60)
    return local.c


def call(method, path, body=None, ctype="application/json", ok=(200, 201, 202, 404, 409)):
    for attempt in range(20):
        try:
            c = conn()
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
            r = c.getresponse()
            out = r.read()
            # A new namespace's default ServiceAccount comes a moment after it.
            if r.status == 429 or r.status >= 500 or (r.status == 403 and b"serviceaccount" in out):
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status not in ok:
                raise SystemExit(f"{method} {path}: {r.status} {out[:300]!r}")
            return r.status, out
        except (http.client.HTTPException, OSError):
            local.__dict__.pop("c", None)
            time.sleep(0.2 * (attempt + 1))
    raise SystemExit(f"{method} {path}: gave up after 20 tries")


def ns_name(n):
    return f"scale-{n:03d}"


def pod_body(i, nss, nodes):
    containers = [{"name": "app", "image": "example/app:1.0"}]
    annotations = {}
    m = i % 10
    if m == 0:
        containers.append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0"})
        annotations["sidecar.istio.io/status"] = '{"containers":["istio-proxy"]}'
    elif m == 1:
        containers.append({"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:stable-2.14.10"})
    elif m == 2:
        containers.append({"name": "kuma-sidecar", "image": "docker.io/kumahq/kuma-dp:2.9.0"})
        annotations["kuma.io/sidecar-injected"] = "true"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"pod-{i:05d}", "namespace": ns_name(i % nss),
                     "labels": {"app": f"app-{(i // nss) % 20}", "meshtop-bench": "scale"},
                     "annotations": annotations},
        "spec": {"nodeName": f"scale-node-{i % nodes}", "automountServiceAccountToken": False,
                 "containers": containers},
    }


def cmd_nodes(k):
    for n in range(k):
        call("POST", "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"scale-node-{n}",
                         "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"type": "kwok", "kubernetes.io/hostname": f"scale-node-{n}",
                                    "meshtop-bench": "scale"}},
            "spec": {"podCIDR": f"10.{100 + n}.0.0/16", "podCIDRs": [f"10.{100 + n}.0.0/16"]},
            "status": {"capacity": {"cpu": "64", "memory": "512Gi", "pods": "10000"},
                       "allocatable": {"cpu": "64", "memory": "512Gi", "pods": "10000"}},
        })


def fresh_namespace(n):
    """Creates it, first waiting out a namespace of that name still being deleted."""
    for _ in range(600):
        status, _ = call("POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns_name(n), "labels": {"meshtop-bench": "scale"}}})
        if status != 409:
            return
        status, out = call("GET", f"/api/v1/namespaces/{ns_name(n)}")
        j = json.loads(out)
        if status == 404:
            continue  # gone meanwhile: create it
        if j.get("kind") == "Namespace" and j.get("status", {}).get("phase") != "Terminating":
            return
        time.sleep(1)
    raise SystemExit(f"namespace {ns_name(n)} is still terminating after 10 minutes")


def cmd_create(pods, nss, nodes=10):
    t0 = time.time()
    with ThreadPoolExecutor(WORKERS) as ex:
        list(ex.map(fresh_namespace, range(nss)))
        t1 = time.time()
        list(ex.map(lambda i: call("POST", f"/api/v1/namespaces/{ns_name(i % nss)}/pods",
                                   pod_body(i, nss, nodes)), range(pods)))
    t2 = time.time()
    print(f"created {nss} namespaces in {t1 - t0:.1f} s, {pods} pods in {t2 - t1:.1f} s "
          f"({pods / max(t2 - t1, 1e-9):.0f}/s)", file=sys.stderr)


def list_all(path):
    items, cont = [], ""
    while True:
        q = f"{path}?limit=5000&labelSelector=meshtop-bench%3Dscale" + (f"&continue={cont}" if cont else "")
        _, out = call("GET", q)
        j = json.loads(out)
        items.extend(j["items"])
        cont = j["metadata"].get("continue")
        if not cont:
            return items


def cmd_running(pods, secs):
    deadline = time.time() + secs
    while True:
        running = sum(1 for p in list_all("/api/v1/pods") if p.get("status", {}).get("phase") == "Running")
        if running >= pods or time.time() > deadline:
            print(running)
            return
        time.sleep(5)


def cmd_churn(rate, secs, pods, nss):
    """Label patches at a fixed rate, round robin over the pods; prints what it achieved."""
    interval = 1.0 / rate
    start = time.time()
    n = 0
    # A value no earlier run used: a patch that changes nothing makes no watch event.
    run = f"{int(start) % 100000}"
    def patch(i, k):
        call("PATCH", f"/api/v1/namespaces/{ns_name(i % nss)}/pods/pod-{i:05d}",
             {"metadata": {"labels": {"churn": f"{run}-{k}"}}}, ctype="application/merge-patch+json")
    with ThreadPoolExecutor(8) as ex:
        futures = []
        while time.time() - start < secs:
            due = start + n * interval
            now = time.time()
            if due > now:
                time.sleep(due - now)
            futures.append(ex.submit(patch, (n * 7919) % pods, n))
            n += 1
        for f in futures:
            f.result()
    took = time.time() - start
    print(f"{n} pod updates in {took:.1f} s ({n / took:.1f}/s)", file=sys.stderr)


def cmd_churn_pods(rate, secs, pods, nss):
    """Deletes a scale pod and creates a new one, alternately, at a fixed rate (rows that
    come and go, not rows changed in place); prints what it achieved."""
    interval = 1.0 / rate
    start = time.time()
    n = 0
    run = f"{int(start) % 100000}"
    def op(n):
        k = n // 2
        if n % 2 == 0:
            i = (k * 7919) % pods
            call("DELETE", f"/api/v1/namespaces/{ns_name(i % nss)}/pods/pod-{i:05d}?gracePeriodSeconds=0")
        else:
            body = pod_body(k, nss, 10)
            body["metadata"]["name"] = f"churn-{run}-{k:05d}"
            call("POST", f"/api/v1/namespaces/{ns_name(k % nss)}/pods", body)
    with ThreadPoolExecutor(8) as ex:
        futures = []
        while time.time() - start < secs:
            due = start + n * interval
            now = time.time()
            if due > now:
                time.sleep(due - now)
            futures.append(ex.submit(op, n))
            n += 1
        for f in futures:
            f.result()
    took = time.time() - start
    print(f"{(n + 1) // 2} pods deleted and {n // 2} created in {took:.1f} s ({n / took:.1f} changes/s)",
          file=sys.stderr)


def cmd_requests():
    _, out = call("GET", "/metrics")
    counts = {}
    for line in out.decode().splitlines():
        if line.startswith("apiserver_request_total{") and 'resource="pods"' in line and 'subresource=""' in line:
            verb = re.search(r'verb="([A-Z]+)"', line).group(1)
            counts[verb] = counts.get(verb, 0) + int(float(line.rsplit(" ", 1)[1]))
    print(json.dumps(counts, sort_keys=True))


def cmd_cleanup(nss, k):
    with ThreadPoolExecutor(WORKERS) as ex:
        list(ex.map(lambda n: call("DELETE", f"/api/v1/namespaces/{ns_name(n)}"), range(nss)))
        list(ex.map(lambda n: call("DELETE", f"/api/v1/nodes/scale-node-{n}"), range(k)))


if __name__ == "__main__":
    HOST, PORT, CTX = load_kubeconfig(sys.argv[1])
    cmd, args = sys.argv[2], [int(a) for a in sys.argv[3:]]
    {"nodes": cmd_nodes, "create": cmd_create, "running": cmd_running, "churn": cmd_churn,
     "churn-pods": cmd_churn_pods,
     "requests": lambda: cmd_requests(), "cleanup": cmd_cleanup}[cmd](*args)
