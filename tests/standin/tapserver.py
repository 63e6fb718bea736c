#!/usr/bin/env python3
"""Fallback for Linkerd's tap APIServer (linkerd2 viz/tap), for tests: an aggregated API server
behind the real kube-apiserver (APIService v1alpha1.tap.linkerd.io) that answers

  POST /apis/tap.linkerd.io/v1alpha1/watch/namespaces/NS/TYPEs/NAME/tap

with a chunked stream of frames, each a 4-byte little-endian length and a TapEvent, as
linkerd2's pkg/protohttp writes them. The messages are encoded with classes that protoc
generates at start-up from the real .proto files (--proto-dir), never with meshtop's own
definitions, so a test checks meshtop against the protocol and not against itself.

Events are real requests: the stand-in proxy (proxy.py --tap-feed) appends one JSON line per
request it forwards; each becomes a request-init, response-init and response-end event, at
most --max-rps of the request's maxRps per second (Linkerd's tap server enforces it too).

Targets named for failure tests: `truncated` (a frame whose length runs past the end of the
stream), `oversize` (a frame claiming 100 MB), `refused` (a framed ApiError with the
linkerd-error header, as the real server answers when it has no pods to tap).

  tapserver.py --listen IP:PORT --cert F --key F --proto-dir DIR --feed FILE --requests FILE
"""
import argparse
import importlib
import json
import os
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def generate(proto_dir):
    out = tempfile.mkdtemp(prefix="tap-pb-")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir, "--python_out=" + out,
                    "viz_tap.proto", "viz.proto", "common/net.proto"], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("viz_tap_pb2"), importlib.import_module("viz_pb2")


def ipv4(s):
    a, b, c, d = (int(x) for x in s.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--proto-dir", required=True)
    p.add_argument("--feed", required=True)
    p.add_argument("--requests", required=True, help="each tap request received, as JSON lines")
    a = p.parse_args()
    tap, viz = generate(a.proto_dir)
    methods = {name: num for name, num in viz.HttpMethod.Registered.items()}
    stream_ids = iter(range(1, 1 << 62))
    ids_lock = threading.Lock()

    def frame(msg):
        body = msg.SerializeToString()
        return struct.pack("<I", len(body)) + body

    def events(req, labels):
        """The three events Linkerd sends for one request."""
        with ids_lock:
            sid = next(stream_ids)
        def base():
            ev = tap.TapEvent()
            ev.source.ip.ipv4 = ipv4(req["src"][0])
            ev.source.port = req["src"][1]
            ev.destination.ip.ipv4 = ipv4(req["dst"][0])
            ev.destination.port = req["dst"][1]
            for k, v in labels.items():
                ev.destination_meta.labels[k] = v
            ev.destination_meta.labels["tls"] = "true"
            ev.proxy_direction = tap.TapEvent.INBOUND
            return ev
        init = base()
        ri = init.http.request_init
        ri.id.base, ri.id.stream = 42, sid
        if req["method"] in methods:
            ri.method.registered = methods[req["method"]]
        else:
            ri.method.unregistered = req["method"]
        ri.scheme.registered = viz.Scheme.HTTP
        ri.authority = req["authority"]
        ri.path = req["path"]
        for k, v in req["headers"]:
            h = ri.headers.headers.add()
            h.name, h.value_str = k, v
        rsp = base()
        rs = rsp.http.response_init
        rs.id.base, rs.id.stream = 42, sid
        rs.since_request_init.FromNanoseconds(req["ttfb_ns"])
        rs.http_status = req["status"]
        end = base()
        en = end.http.response_end
        en.id.base, en.id.stream = 42, sid
        en.since_request_init.FromNanoseconds(req["total_ns"])
        en.since_response_init.FromNanoseconds(max(0, req["total_ns"] - req["ttfb_ns"]))
        en.response_bytes = req["bytes"]
        return [init, rsp, end]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def json(self, obj):
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            # Discovery and the aggregator's availability check.
            if self.path.startswith("/apis/tap.linkerd.io/v1alpha1"):
                self.json({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "tap.linkerd.io/v1alpha1",
                           "resources": [{"name": "deployments/tap", "namespaced": True, "kind": "Tap",
                                          "verbs": ["watch"]},
                                         {"name": "pods/tap", "namespaced": True, "kind": "Tap", "verbs": ["watch"]},
                                         {"name": "namespaces/tap", "namespaced": False, "kind": "Tap",
                                          "verbs": ["watch"]}]})
            elif self.path.startswith("/apis"):
                self.json({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
            else:
                self.json({"status": "ok"})

        def chunk(self, data):
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
            self.wfile.flush()

        def do_POST(self):
            parts = self.path.split("?")[0].strip("/").split("/")
            # apis tap.linkerd.io v1alpha1 watch namespaces NS [TYPEs NAME] tap
            if len(parts) not in (7, 9) or parts[:5] != ["apis", "tap.linkerd.io", "v1alpha1", "watch", "namespaces"]:
                self.send_error(404)
                return
            ns = parts[5]
            kind, name = (parts[6].rstrip("s"), parts[7]) if len(parts) == 9 else ("namespace", ns)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            req = tap.TapByResourceRequest()
            req.ParseFromString(body)
            r = req.target.resource
            with open(a.requests, "a") as f:
                f.write(json.dumps({"path_namespace": ns, "path_kind": kind, "path_name": name,
                                    "namespace": r.namespace, "type": r.type, "name": r.name,
                                    "max_rps": req.maxRps, "user": self.headers.get("X-Remote-User")}) + "\n")
            if name == "refused":
                err = viz.ApiError(error="no pods to tap for %s/%s" % (kind, name))
                data = frame(err)
                self.send_response(500)
                self.send_header("linkerd-error", "Internal Server Error")
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if name == "truncated":
                    self.chunk(struct.pack("<I", 100) + b"0123456789")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if name == "oversize":
                    self.chunk(struct.pack("<I", 100 * 1024 * 1024) + b"x" * 64)
                    time.sleep(5)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                labels = {"namespace": ns, kind: name}
                budget, second = 0, int(time.time())
                with open(a.feed, "a+") as feed:
                    feed.seek(0, os.SEEK_END)
                    pending = ""
                    while True:
                        line = feed.readline()
                        if not line:
                            time.sleep(0.05)
                            continue
                        pending += line
                        if not pending.endswith("\n"):
                            continue
                        request, pending = json.loads(pending), ""
                        now = int(time.time())
                        if now != second:
                            budget, second = 0, now
                        if budget >= req.maxRps:
                            continue
                        budget += 1
                        labels["pod"] = request["pod"]
                        self.chunk(b"".join(frame(e) for e in events(request, labels)))
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
                # The other end went away; when a test did not expect it, this says when.
                sys.stderr.write("%s %s: the stream ended: %r\n" % (time.strftime("%H:%M:%S"), self.path, e))
                return

        def log_message(self, *args):
            pass

    host, port = a.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
