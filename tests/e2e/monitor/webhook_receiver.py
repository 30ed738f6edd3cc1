#!/usr/bin/env python3
"""Receives Alertmanager webhook notifications on 127.0.0.1 for the tests.

usage: webhook_receiver.py PORT_FILE OUT_FILE

Every POST body is appended to OUT_FILE as one line of JSON; the port it
listens on is written to PORT_FILE."""
import http.server
import json
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
