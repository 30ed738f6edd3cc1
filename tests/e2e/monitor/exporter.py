#!/usr/bin/env python3
"""A tiny metrics endpoint for the monitoring tests, on 127.0.0.1.

usage: exporter.py PORT_FILE [--broken]

Serves /metrics in the text format: a counter that grows by 3 per request,
a gauge, and a classic histogram. With --broken the body is malformed.
Writes the port it listens on to PORT_FILE."""
import http.server
import sys
import threading

broken = "--broken" in sys.argv
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        with lock:
            count[0] += 3
            c = count[0]
        if broken:
            body = 'app_requests_total{path="/" 1\n'
        else:
            body = (
                "# HELP app_requests_total Requests served.\n"
                "# TYPE app_requests_total counter\n"
                f'app_requests_total{{path="/"}} {c}\n'
                f'app_requests_total{{path="/api"}} {2 * c}\n'
                "# HELP app_temperature_celsius A gauge.\n"
                "# TYPE app_temperature_celsius gauge\n"
                "app_temperature_celsius 21.5\n"
                "# TYPE app_latency_seconds histogram\n"
                f'app_latency_seconds_bucket{{le="0.1"}} {c}\n'
                f'app_latency_seconds_bucket{{le="0.5"}} {2 * c}\n'
                f'app_latency_seconds_bucket{{le="+Inf"}} {3 * c}\n'
                f"app_latency_seconds_sum {0.2 * c}\n"
                f"app_latency_seconds_count {3 * c}\n"
            )
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
