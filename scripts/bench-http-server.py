#!/usr/bin/env python3
"""A local HTTP server for scripts/bench-memory-remote.

    bench-http-server.py --dir DIR --port-file FILE

Serves on 127.0.0.1 (a free port, written to FILE once listening):
- GET /NAME: DIR/NAME with its Content-Length, `text/csv` for .csv and
  `application/x-ndjson` for .ndjson, in 1 MiB writes;
- GET /gz/NAME: DIR/NAME.gz with `Content-Encoding: gzip` (made
  beforehand, e.g. with `gzip -k`);
- GET /fhir/Appointment[?page=K]: DIR/fhir/page-K.json (K = 1 without a
  page) as `application/fhir+json` (scripts/gen-fhir-pages.py).
Standard library only; one thread per connection.
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import urllib.parse

TYPES = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".json": "application/json"}


def handler(root: str):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            encoding = None
            if url.path == "/fhir/Appointment":
                page = urllib.parse.parse_qs(url.query).get("page", ["1"])[0]
                path = os.path.join(root, "fhir", f"page-{int(page)}.json")
                kind = "application/fhir+json"
            elif url.path.startswith("/gz/"):
                name = os.path.basename(url.path)
                path = os.path.join(root, name + ".gz")
                kind = TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
                encoding = "gzip"
            else:
                name = os.path.basename(url.path)
                path = os.path.join(root, name)
                kind = TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
            try:
                body = open(path, "rb")
            except OSError:
                self.send_error(404)
                return
            with body:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(os.fstat(body.fileno()).st_size))
                if encoding:
                    self.send_header("Content-Encoding", encoding)
                self.end_headers()
                try:
                    shutil.copyfileobj(body, self.wfile, 1 << 20)
                except (BrokenPipeError, ConnectionResetError):
                    pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(args.dir))
    with open(args.port_file + ".tmp", "w") as out:
        out.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
