#!/usr/bin/env python3
"""Stand-in mesh proxy for tests: forwards real HTTP traffic to an upstream and exports
that traffic's metrics in Istio's or Linkerd's exact format (names, labels, buckets).

  proxy.py --format istio|linkerd --listen PORT --upstream http://127.0.0.1:8080 \
           --metrics PORT --namespace NS --workload NAME

Requests to /status/NNN are answered with status NNN (an upstream error, for success ratios).
Extra metrics paths for bad-input tests: /garbage (not an exposition), /huge (11 MiB),
/hang (never answers).
"""
import argparse
import http.client
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


class StatusReply(Exception):
    def __init__(self, code):
        self.code = code


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--format", choices=["istio", "linkerd"], required=True)
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--metrics", type=int, required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--workload", required=True)
    a = p.parse_args()
    up = urllib.parse.urlparse(a.upstream)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            start = time.monotonic()
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
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            ms = (time.monotonic() - start) * 1000
            with lock:
                counts[code] = counts.get(code, 0) + 1
                latencies.append((code, ms))

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
                body = (istio_metrics(a) if a.format == "istio" else linkerd_metrics(a)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
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
