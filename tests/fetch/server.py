#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""HTTP server for tests/unit/test_fetch.c (standard library only, loopback only).

usage: server.py DOCROOT LOGFILE PORTFILE

Binds 127.0.0.1 on a free port, writes the port number to PORTFILE and logs one
line per request to LOGFILE: "GET PATH range=RANGE|- inflight=N".
Routes (NAME is a file in DOCROOT):
  /files/NAME        the file; honours "Range: bytes=A-[B]" with 206
  /norange/NAME      the file, always 200 (ignores Range)
  /redir/K/NAME      302 to /redir/K-1/NAME, and /redir/0/NAME to /files/NAME
  /cut/NAME          without Range: full Content-Length, half the body, then the
                     connection is closed; with Range: as /files/NAME
  /stall/NAME        headers and the first 100 bytes, then silence
  /slow/NAME         waits 0.5 s, then as /files/NAME
  /archive/.../NAME  as /files/NAME (a Debian archive's pool path)
Anything else is 404. The server exits by itself after 120 s.
"""
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCROOT, LOGFILE, PORTFILE = sys.argv[1:4]
lock = threading.Lock()
inflight = 0


def log(line):
    with lock, open(LOGFILE, "a") as f:
        f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_simple(self, code, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def load(self, name):
        path = os.path.join(DOCROOT, name)
        if "/" in name or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def send_body(self, code, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(body)

    def serve_file(self, data, honour_range=True):
        rng = self.headers.get("Range")
        if honour_range and rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = int(b) if b else len(data) - 1
            if start >= len(data):
                self.send_simple(416, [("Content-Range", "bytes */%d" % len(data))])
                return
            end = min(end, len(data) - 1)
            self.send_body(206, data[start:end + 1],
                           [("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))])
        else:
            self.send_body(200, data)

    def do_GET(self):
        global inflight
        with lock:
            inflight += 1
            n = inflight
        log("GET %s range=%s inflight=%d" % (self.path, self.headers.get("Range", "-"), n))
        self.counted = True
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.uncount()

    def uncount(self):
        global inflight
        with lock:
            if self.counted:
                inflight -= 1
                self.counted = False

    def route(self):
        parts = self.path.split("/")[1:]
        kind = parts[0] if parts else ""
        if kind == "redir" and len(parts) == 3:
            k = int(parts[1])
            to = "/files/%s" % parts[2] if k == 0 else "/redir/%d/%s" % (k - 1, parts[2])
            self.send_simple(302, [("Location", to)])
            return
        if kind == "archive" and len(parts) > 2:
            # a Debian archive's pool: /archive/pool/main/.../NAME serves NAME
            parts = ["files", parts[-1]]
            kind = "files"
        data = self.load(parts[1]) if len(parts) == 2 else None
        if data is None:
            self.send_simple(404)
            return
        if kind == "files":
            self.serve_file(data)
        elif kind == "norange":
            self.serve_file(data, honour_range=False)
        elif kind == "slow":
            time.sleep(0.5)
            self.serve_file(data)
        elif kind == "cut":
            if self.headers.get("Range"):
                self.serve_file(data)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:100])
            self.wfile.flush()
            self.uncount()   # a stalled request is not a transfer in flight
            time.sleep(30)
            self.close_connection = True
        else:
            self.send_simple(404)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Timer(120, lambda: os._exit(0))
    t.daemon = True
    t.start()
    tmp = PORTFILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
