#!/usr/bin/env python3
"""A webhook receiver for tests, on 127.0.0.1 only.

webhook.py DIR: listens on a free port, writes the port to DIR/port, and saves
each POST body as DIR/NNN.json (with its headers in DIR/NNN.headers) until it
is killed.
"""
import http.server
import os
import sys

out = sys.argv[1]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        count += 1
        with open(os.path.join(out, "%03d.json" % count), "wb") as f:
            f.write(body)
        with open(os.path.join(out, "%03d.headers" % count), "w") as f:
            f.write(str(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
tmp = os.path.join(out, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, os.path.join(out, "port"))
server.serve_forever()
