"""A tiny HTTP or HTTPS server for negative samples (non-MySQL traffic on other ports)."""

from __future__ import annotations

import argparse
import http.server
import ssl


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"capture-tls lab: not a MySQL server\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    httpd = http.server.HTTPServer((args.bind, args.port), Handler)
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print("listening", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
