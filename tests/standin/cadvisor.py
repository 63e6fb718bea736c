#!/usr/bin/env python3
"""Stand-in for the kubelet's cAdvisor endpoint: exports container_cpu_usage_seconds_total
(growing at a fixed number of cores per container) and container_memory_working_set_bytes,
with cAdvisor's label names, so Prometheus can scrape it like /metrics/cadvisor.

  cadvisor.py --listen 127.0.0.1:9101 NS/POD/CONTAINER=CORES,BYTES ...
"""
import argparse
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--listen", required=True)
p.add_argument("containers", nargs="+")
a = p.parse_args()
start = time.time()
rows = []
for spec in a.containers:
    name, usage = spec.split("=")
    ns, pod, container = name.split("/")
    cores, mem = usage.split(",")
    rows.append((ns, pod, container, float(cores), int(mem)))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        elapsed = time.time() - start
        out = ["# TYPE container_cpu_usage_seconds_total counter"]
        for ns, pod, c, cores, _ in rows:
            out.append('container_cpu_usage_seconds_total{namespace="%s",pod="%s",container="%s",cpu="total"} %.6f'
                       % (ns, pod, c, 100 + cores * elapsed))
        # The pod-level cgroup (container="") and the pause container are what queries must skip.
        for ns, pod, _, _, _ in rows[:1]:
            out.append('container_cpu_usage_seconds_total{namespace="%s",pod="%s",container="",cpu="total"} %.6f'
                       % (ns, pod, 1000 + elapsed))
            out.append('container_cpu_usage_seconds_total{namespace="%s",pod="%s",container="POD",cpu="total"} %.6f'
                       % (ns, pod, 5 + elapsed))
        out.append("# TYPE container_memory_working_set_bytes gauge")
        for ns, pod, c, _, mem in rows:
            out.append('container_memory_working_set_bytes{namespace="%s",pod="%s",container="%s"} %d'
                       % (ns, pod, c, mem))
        body = ("\n".join(out) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


host, port = a.listen.rsplit(":", 1)
ThreadingHTTPServer((host, int(port)), Handler).serve_forever()
