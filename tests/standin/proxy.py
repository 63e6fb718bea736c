#!/usr/bin/env python3
"""Stand-in mesh proxy for tests: forwards real HTTP traffic to an upstream and exports
that traffic's metrics in Istio's or Linkerd's exact format (names, labels, buckets).

  proxy.py --format istio|linkerd|ztunnel|waypoint --listen PORT --upstream http://127.0.0.1:8080 \
           --metrics PORT --namespace NS --workload NAME [--source-workload NAME]

ztunnel: Istio ambient's node proxy, L4 only, in its OpenMetrics exposition: the TCP
connections opened and closed and the bytes read from the client and written back, counted on
the sockets, reported from both ends (`reporter="source"` for --source-workload's outbound,
`reporter="destination"` for --workload's inbound, as the two ztunnels of one node would).
waypoint: ambient's L7 proxy, Istio's request metrics with `reporter="waypoint"` for the
destination workload (--workload), and its body-size sums.

Requests to /status/NNN are answered with status NNN (an upstream error, for success ratios).

Tap: --access-log FILE writes one Envoy access-log line per request, in Istio's default TEXT
format, its JSON encoding or Envoy's default format (--access-log-format), wrapped as the
container runtime stores container logs (CRI: `TIME stdout F LINE`) so kwok serves them through
the pod log API. --tap-feed FILE writes one JSON line per request for the fallback Linkerd tap
server (tests/standin/tapserver.py).
Extra metrics paths for bad-input tests: /garbage (not an exposition), /huge (11 MiB),
/hang (never answers).
"""
import argparse
import datetime
import http.client
import json
import uuid
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ISTIO_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
                 300000, 600000, 1800000, 3600000]
LINKERD_BUCKETS = [1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000,
                   4000, 5000, 10000, 20000, 30000, 40000, 50000]

lock = threading.Lock()
counts = {}      # status code -> requests
latencies = []   # ms, every request (tests send a few hundred)


def fmt(v):
    return ("%g" % v) if v != int(v) else str(int(v))


def istio_metrics(a):
    labels = ('reporter="destination",source_workload="loadgen",source_workload_namespace="%s",'
              'destination_workload="%s",destination_workload_namespace="%s",'
              'destination_service="%s.%s.svc.cluster.local",request_protocol="http",'
              'connection_security_policy="mutual_tls"') % (a.namespace, a.workload, a.namespace,
                                                            a.workload, a.namespace)
    out = ["# TYPE istio_requests_total counter"]
    with lock:
        for code, n in sorted(counts.items()):
            out.append('istio_requests_total{response_code="%d",%s} %d' % (code, labels, n))
        out.append("# TYPE istio_request_duration_milliseconds histogram")
        for code in sorted(counts):
            ls = [l for c, l in latencies if c == code]
            for b in ISTIO_BUCKETS:
                out.append('istio_request_duration_milliseconds_bucket{response_code="%d",%s,le="%s"} %d'
                           % (code, labels, fmt(b), sum(1 for l in ls if l <= b)))
            out.append('istio_request_duration_milliseconds_bucket{response_code="%d",%s,le="+Inf"} %d'
                       % (code, labels, len(ls)))
            out.append('istio_request_duration_milliseconds_sum{response_code="%d",%s} %s' % (code, labels, sum(ls)))
            out.append('istio_request_duration_milliseconds_count{response_code="%d",%s} %d' % (code, labels, len(ls)))
    return "\n".join(out) + "\n"


def linkerd_metrics(a):
    base = 'direction="inbound",authority="%s.%s.svc.cluster.local:80",tls="true"' % (a.workload, a.namespace)
    out = ["# TYPE response_total counter"]
    with lock:
        for code, n in sorted(counts.items()):
            cls = "failure" if code >= 500 else "success"
            out.append('response_total{%s,status_code="%d",classification="%s"} %d' % (base, code, cls, n))
        out.append("# TYPE response_latency_ms histogram")
        for code in sorted(counts):
            ls = [l for c, l in latencies if c == code]
            for b in LINKERD_BUCKETS:
                out.append('response_latency_ms_bucket{%s,status_code="%d",le="%s"} %d'
                           % (base, code, fmt(b), sum(1 for l in ls if l <= b)))
            out.append('response_latency_ms_bucket{%s,status_code="%d",le="+Inf"} %d' % (base, code, len(ls)))
        out.append("# TYPE tcp_open_connections gauge")
        out.append('tcp_open_connections{direction="inbound",peer="src",tls="true"} 1')
    return "\n".join(out) + "\n"


tcp = {"opened": 0, "closed": 0, "received": 0, "sent": 0}


def istio_labels(a, reporter, protocol):
    return ('reporter="%s",source_workload="%s",source_workload_namespace="%s",'
            'destination_workload="%s",destination_workload_namespace="%s",'
            'destination_service="%s.%s.svc.cluster.local",request_protocol="%s",'
            'connection_security_policy="mutual_tls"') % (reporter, a.source_workload, a.namespace, a.workload,
                                                          a.namespace, a.workload, a.namespace, protocol)


def ztunnel_metrics(a):
    out = []
    with lock:
        for name, key, unit in [("istio_tcp_connections_opened", "opened", None),
                                ("istio_tcp_connections_closed", "closed", None),
                                ("istio_tcp_received_bytes", "received", "bytes"),
                                ("istio_tcp_sent_bytes", "sent", "bytes")]:
            out.append("# TYPE %s counter" % name)
            if unit:
                out.append("# UNIT %s %s" % (name, unit))
            for reporter in ("destination", "source"):
                out.append("%s_total{%s} %d" % (name, istio_labels(a, reporter, "tcp"), tcp[key]))
    out.append("# TYPE istio_build gauge")
    out.append('istio_build{component="ztunnel",tag="1.24.0"} 1')
    out.append("# EOF")
    return "\n".join(out) + "\n"


def waypoint_metrics(a):
    labels = istio_labels(a, "waypoint", "http")
    out = ["# TYPE istio_requests_total counter"]
    with lock:
        for code, n in sorted(counts.items()):
            out.append('istio_requests_total{response_code="%d",%s} %d' % (code, labels, n))
        out.append("# TYPE istio_request_duration_milliseconds histogram")
        ls = [l for _, l in latencies]
        for b in ISTIO_BUCKETS:
            out.append('istio_request_duration_milliseconds_bucket{%s,le="%s"} %d'
                       % (labels, fmt(b), sum(1 for l in ls if l <= b)))
        out.append('istio_request_duration_milliseconds_bucket{%s,le="+Inf"} %d' % (labels, len(ls)))
        out.append('istio_request_duration_milliseconds_count{%s} %d' % (labels, len(ls)))
        # Body sizes of the same requests: ztunnel counts their bytes; meshtop must not again.
        out.append("# TYPE istio_response_bytes histogram")
        out.append('istio_response_bytes_sum{%s} %d' % (labels, tcp["sent"]))
        out.append('istio_response_bytes_count{%s} %d' % (labels, len(ls)))
    return "\n".join(out) + "\n"


class Counting:
    """A socket file that counts the bytes through it into tcp[key] as they flow, as ztunnel
    counts TCP bytes (a long-lived connection shows its bytes before it closes)."""

    def __init__(self, f, key):
        self.f, self.key = f, key

    def count(self, n):
        with lock:
            tcp[self.key] += n

    def readline(self, *args):
        line = self.f.readline(*args)
        self.count(len(line))
        return line

    def read(self, *args):
        data = self.f.read(*args)
        self.count(len(data))
        return data

    def write(self, data):
        self.count(len(data))
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


def rfc3339(t):
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def access_log_line(fmt, r):
    """One access-log line for request `r`, in the format Istio (TEXT, JSON) or Envoy writes."""
    q = lambda v: v if v not in (None, "") else "-"
    if fmt == "json":
        return json.dumps({
            "authority": r["authority"], "bytes_received": 0, "bytes_sent": r["bytes"],
            "connection_termination_details": None, "downstream_local_address": r["local"],
            "downstream_remote_address": r["remote"], "duration": r["ms"], "method": r["method"],
            "path": r["path"], "protocol": "HTTP/1.1", "request_id": r["id"], "requested_server_name": None,
            "response_code": r["status"], "response_code_details": "via_upstream",
            "response_flags": r["flags"], "route_name": "default", "start_time": rfc3339(r["start"]),
            "upstream_cluster": r["cluster"], "upstream_host": r["upstream"],
            "upstream_local_address": "127.0.0.6:%d" % r["remote_port"], "upstream_service_time": str(r["ms"]),
            "upstream_transport_failure_reason": None, "user_agent": r["agent"], "x_forwarded_for": None,
        })
    if fmt == "envoy":
        return '[%s] "%s %s HTTP/1.1" %d %s %d %d %d %d "-" "%s" "%s" "%s" "%s"' % (
            rfc3339(r["start"]), r["method"], r["path"], r["status"], r["flags"], 0, r["bytes"], r["ms"],
            r["ms"], q(r["agent"]), r["id"], r["authority"], r["upstream"])
    return ('[%s] "%s %s HTTP/1.1" %d %s via_upstream - "-" %d %d %d %d "-" "%s" "%s" "%s" "%s" %s '
            '127.0.0.6:%d %s %s - default') % (
        rfc3339(r["start"]), r["method"], r["path"], r["status"], r["flags"], 0, r["bytes"], r["ms"],
        r["ms"], q(r["agent"]), r["id"], r["authority"], r["upstream"], r["cluster"], r["remote_port"],
        r["local"], r["remote"])


def cri(line):
    """A container log line as the runtime stores it (what the kubelet, here kwok, serves)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return "%s stdout F %s\n" % (now, line)


class StatusReply(Exception):
    def __init__(self, code):
        self.code = code


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--format", choices=["istio", "linkerd", "ztunnel", "waypoint"], required=True)
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--metrics", type=int, required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--source-workload", default="loadgen")
    p.add_argument("--access-log")
    p.add_argument("--access-log-format", choices=["istio", "json", "envoy"], default="istio")
    p.add_argument("--tap-feed")
    a = p.parse_args()
    up = urllib.parse.urlparse(a.upstream)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.rfile, self.wfile = Counting(self.rfile, "received"), Counting(self.wfile, "sent")
            with lock:
                tcp["opened"] += 1

        def finish(self):
            # Before the socket closes, so a client that read to the end sees the count.
            super().finish()
            with lock:
                tcp["closed"] += 1

        def do_GET(self):
            start = time.monotonic()
            wall = time.time()
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=10)
            try:
                if self.path.startswith("/status/"):
                    # An upstream answering with this status (tests of success ratios).
                    code = int(self.path.split("/")[2])
                    raise StatusReply(code)
                conn.request("GET", self.path)
                r = conn.getresponse()
                body, code = r.read(), r.status
            except StatusReply as e:
                body, code = b"status %d\n" % e.code, e.code
            except OSError:
                body, code = b"upstream unreachable\n", 503
            finally:
                conn.close()
            first_byte = time.monotonic()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            end = time.monotonic()
            ms = (end - start) * 1000
            with lock:
                counts[code] = counts.get(code, 0) + 1
                latencies.append((code, ms))
            local = self.connection.getsockname()
            r = {
                "start": wall, "method": self.command, "path": self.path, "status": code,
                "flags": "-" if code < 500 else "URX", "bytes": len(body), "ms": int(ms),
                "agent": self.headers.get("User-Agent", ""), "id": str(uuid.uuid4()),
                "authority": self.headers.get("Host", "-"), "upstream": "127.0.0.1:%d" % up.port,
                "cluster": "inbound|%d||" % a.listen, "local": "%s:%d" % (local[0], local[1]),
                "remote": "%s:%d" % self.client_address, "remote_port": self.client_address[1],
            }
            with lock:
                if a.access_log:
                    with open(a.access_log, "a") as f:
                        f.write(cri(access_log_line(a.access_log_format, r)))
                if a.tap_feed:
                    with open(a.tap_feed, "a") as f:
                        f.write(json.dumps({
                            "start_ms": int(wall * 1000), "pod": a.workload, "src": list(self.client_address),
                            "dst": [local[0], local[1]], "method": self.command,
                            "authority": r["authority"], "path": self.path, "status": code,
                            "ttfb_ns": int((first_byte - start) * 1e9), "total_ns": int((end - start) * 1e9),
                            "bytes": len(body), "headers": [[k, v] for k, v in self.headers.items()],
                        }) + "\n")

        def log_message(self, *args):
            pass

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/hang":
                time.sleep(3600)
                return
            if self.path == "/huge":
                body = ("x_total 1\n" * (11 * 1024 * 1024 // 10)).encode()
            elif self.path == "/garbage":
                body = b"<html><body>502 Bad Gateway</body></html>\n"
            else:
                body = {"istio": istio_metrics, "linkerd": linkerd_metrics, "ztunnel": ztunnel_metrics,
                        "waypoint": waypoint_metrics}[a.format](a).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/openmetrics-text; version=1.0.0" if a.format == "ztunnel"
                             else "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    metrics = ThreadingHTTPServer(("0.0.0.0", a.metrics), Metrics)
    metrics.daemon_threads = True
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    server = ThreadingHTTPServer(("0.0.0.0", a.listen), Forward)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
