#!/usr/bin/env python3
"""The example portal's web service (python3 standard library only).

    portal_web.py --port 28080 --db-port 25433 --uploads /var/tmp/kho-example/srv/portal/uploads

Listens on 127.0.0.1 only. The database is queried with psql (role and
database "portal" on 127.0.0.1:DB_PORT), one short process per query.

    GET /              HTML page: the portal, its number of records and documents
    GET /health        200 "ok" when the database answers and the uploads folder is
                       readable and holds no *.locked file; else 503 with the reason
    GET /api/records   JSON list of the records: [{"id": 1, "ma_ho_so": "HS-..."}, ...]
    GET /files/PATH    an uploaded document
"""

import argparse
import html
import json
import mimetypes
import os
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RANSOM_NOTE = "READ_ME_TO_RESTORE_FILES.txt"


class DbError(Exception):
    pass


class Portal:
    def __init__(self, db_port, uploads):
        self.db_port = db_port
        self.uploads = os.path.realpath(uploads)

    def query(self, sql):
        """Rows of a query, each a list of text fields."""
        env = dict(os.environ, PGCONNECT_TIMEOUT="5")
        try:
            p = subprocess.run(
                ["psql", "-X", "-h", "127.0.0.1", "-p", str(self.db_port), "-U", "portal",
                 "-d", "portal", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                capture_output=True, text=True, timeout=20, env=env, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DbError(str(e))
        if p.returncode != 0:
            raise DbError(p.stderr.strip() or "psql exit status %d" % p.returncode)
        return [line.split("\t") for line in p.stdout.splitlines()]

    def documents(self):
        """Relative paths of the uploaded files (ransom notes left out)."""
        out = []
        for d, _, files in os.walk(self.uploads, onerror=self._raise):
            for f in files:
                if f != RANSOM_NOTE:
                    out.append(os.path.relpath(os.path.join(d, f), self.uploads))
        return sorted(out)

    @staticmethod
    def _raise(err):
        raise err

    def health(self):
        """(ok, reason)."""
        try:
            self.query("SELECT count(*) FROM ho_so")
        except DbError as e:
            return False, "database: " + e.args[0].splitlines()[0]
        if not os.path.isdir(self.uploads) or not os.access(self.uploads, os.R_OK | os.X_OK):
            return False, "uploads: %s is not readable" % self.uploads
        try:
            docs = self.documents()
        except OSError as e:
            return False, "uploads: %s" % e
        locked = [d for d in docs if d.endswith(".locked")]
        if locked:
            return False, "uploads: %d encrypted files (*.locked), e.g. %s" % (len(locked), locked[0])
        return True, "ok"


class Handler(BaseHTTPRequestHandler):
    portal = None  # set in main
    server_version = "portal-example/1"

    def send(self, status, body, ctype="text/plain; charset=utf-8"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path == "/":
                self.index()
            elif path == "/health":
                ok, reason = self.portal.health()
                self.send(200 if ok else 503, reason + "\n")
            elif path == "/api/records":
                rows = self.portal.query("SELECT id, ma_ho_so FROM ho_so ORDER BY id")
                body = json.dumps([{"id": int(r[0]), "ma_ho_so": r[1]} for r in rows], ensure_ascii=False)
                self.send(200, body + "\n", "application/json; charset=utf-8")
            elif path.startswith("/files/"):
                self.file(urllib.parse.unquote(path[len("/files/"):]))
            else:
                self.send(404, "not found\n")
        except DbError as e:
            self.send(503, "database unavailable: %s\n" % e)
        except BrokenPipeError:
            pass

    def index(self):
        p = self.portal
        try:
            records = p.query("SELECT count(*) FROM ho_so")[0][0]
        except DbError as e:
            self.send(503, "<!doctype html><title>Cổng dịch vụ công</title><h1>portal unavailable</h1><p>%s</p>\n"
                      % html.escape(str(e)), "text/html; charset=utf-8")
            return
        try:
            docs = p.documents()
        except OSError:
            docs = []
        items = "".join('<li><a href="/files/%s">%s</a></li>' % (urllib.parse.quote(d), html.escape(d)) for d in docs)
        body = ("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
                "<title>Cổng dịch vụ công (example portal)</title></head><body>"
                "<h1>Cổng dịch vụ công tỉnh: example portal</h1>"
                "<p>Records (hồ sơ): <b id=\"records\">%s</b></p>"
                "<p>Uploaded documents: <b id=\"documents\">%d</b></p><ul>%s</ul>"
                "</body></html>\n") % (html.escape(records), len(docs), items)
        self.send(200, body, "text/html; charset=utf-8")

    def file(self, rel):
        base = self.portal.uploads
        full = os.path.realpath(os.path.join(base, rel))
        if not full.startswith(base + os.sep) or not os.path.isfile(full):
            self.send(404, "not found\n")
            return
        with open(full, "rb") as f:
            data = f.read()
        ctype = mimetypes.guess_type(full)[0] or "application/octet-stream"
        if ctype.startswith("text/"):
            ctype += "; charset=utf-8"
        self.send(200, data, ctype)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db-port", type=int, required=True)
    ap.add_argument("--uploads", required=True)
    args = ap.parse_args()
    Handler.portal = Portal(args.db_port, args.uploads)
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("portal web service on http://127.0.0.1:%d/ (database 127.0.0.1:%d, uploads %s)"
          % (args.port, args.db_port, Handler.portal.uploads), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    import signal

    # Stopped with SIGTERM (portal.sh stop-web, the end of a drill): exit quietly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
