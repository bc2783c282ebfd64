#!/usr/bin/env python3
"""A small OTLP trace receiver for poort's tests, built on the OpenTelemetry project's own
protobuf definitions (PyPI `opentelemetry-proto`) and grpcio, not on poort's code.

It serves the collector's trace service over both OTLP transports, on loopback only:
  - gRPC: opentelemetry.proto.collector.trace.v1.TraceService/Export
  - HTTP/protobuf: POST /v1/traces with a binary ExportTraceServiceRequest

Every span received is appended to OUT as one JSON line (IDs in hex, attributes as a plain
object, the resource's attributes beside them, and the transport it came by). When both servers
listen it prints one line, `grpc=PORT http=PORT`, and flushes, so the caller can wait for it.

    receiver.py --out spans.jsonl [--grpc-port 0] [--http-port 0]

Port 0 (the default) lets the OS pick a free port. It stops on SIGTERM or SIGINT.
"""

import argparse
import gzip
import json
import signal
import sys
import threading
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

LOOPBACK = "127.0.0.1"


def value(v):
    """An OTLP AnyValue as plain JSON."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


class Sink:
    """Appends spans to the output file, one JSON line each, whole lines only."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.out = open(path, "a", encoding="utf-8")

    def export(self, request, transport):
        lines = []
        for rs in request.resource_spans:
            resource = attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    lines.append(
                        json.dumps(
                            {
                                "transport": transport,
                                "resource": resource,
                                "scope": ss.scope.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "name": span.name,
                                "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                                "start_unix_nano": span.start_time_unix_nano,
                                "end_unix_nano": span.end_time_unix_nano,
                                "attributes": attributes(span.attributes),
                                "events": [
                                    {"name": e.name, "attributes": attributes(e.attributes)}
                                    for e in span.events
                                ],
                                "links": [
                                    {
                                        "trace_id": link.trace_id.hex(),
                                        "span_id": link.span_id.hex(),
                                        "attributes": attributes(link.attributes),
                                    }
                                    for link in span.links
                                ],
                                "status": {
                                    "code": trace_pb2.Status.StatusCode.Name(span.status.code),
                                    "message": span.status.message,
                                },
                            },
                            sort_keys=True,
                        )
                    )
        if lines:
            with self.lock:
                self.out.write("".join(line + "\n" for line in lines))
                self.out.flush()


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink):
        self.sink = sink

    def Export(self, request, context):  # noqa: N802 (the generated name)
        self.sink.export(request, "grpc")
        return trace_service_pb2.ExportTraceServiceResponse()


def http_handler(sink):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            if self.path.split("?", 1)[0] != "/v1/traces":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            try:
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
            except Exception as e:  # a malformed export is the exporter's fault: say so
                self.send_error(400, f"not an ExportTraceServiceRequest: {e}")
                return
            sink.export(request, "http/protobuf")
            answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # quiet: the test prints what it needs
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="file the spans are appended to (JSON lines)")
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    args = parser.parse_args()

    sink = Sink(args.out)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        # One listener per port: never share a port with another process's socket.
        options=[("grpc.so_reuseport", 0)],
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(sink), server)
    grpc_port = server.add_insecure_port(f"{LOOPBACK}:{args.grpc_port}")
    if grpc_port == 0:
        sys.exit(f"cannot listen for gRPC on {LOOPBACK}:{args.grpc_port}")
    server.start()

    httpd = ThreadingHTTPServer((LOOPBACK, args.http_port), http_handler(sink))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"grpc={grpc_port} http={httpd.server_address[1]}", flush=True)
    stop.wait()
    httpd.shutdown()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
