"""A MySQL/TLS forwarder that re-frames the server's TLS handshake into small records.

Theory of operation: for each accepted client connection the proxy connects upstream and
copies bytes both ways. Client -> server bytes pass unchanged. Server -> client: the first
MySQL packet (the greeting) passes unchanged; then the stream is read as TLS records
(RFC 5246 section 6.2.1). Plaintext handshake records (content type 22, before the server's
ChangeCipherSpec) are cut into records of at most ``--fragment`` bytes of handshake content,
each sent with its own ``send`` on a TCP_NODELAY socket whose MSS is small, so one certificate
spans many TLS records and many TCP segments. Everything from the server's ChangeCipherSpec on
(encrypted) passes unchanged. TLS 1.3 encrypts the Certificate, so use it with TLS 1.2.
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
import time

CHANGE_CIPHER_SPEC = 20
HANDSHAKE = 22


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def server_to_client(upstream: socket.socket, client: socket.socket, fragment: int,
                     pause: float) -> None:
    try:
        header = recv_exact(upstream, 4)
        if header is None:
            return
        length = int.from_bytes(header[:3], "little")
        body = recv_exact(upstream, length)
        if body is None:
            return
        client.sendall(header + body)
        splitting = True
        while splitting:
            rec_header = recv_exact(upstream, 5)
            if rec_header is None:
                return
            ctype, version, rec_len = struct.unpack("!BHH", rec_header)
            if ctype not in (20, 21, 22, 23) or version >> 8 != 3:
                client.sendall(rec_header)  # not TLS: pass the rest through untouched
                break
            payload = recv_exact(upstream, rec_len)
            if payload is None:
                return
            if ctype == HANDSHAKE:
                for i in range(0, len(payload), fragment):
                    piece = payload[i : i + fragment]
                    client.sendall(struct.pack("!BHH", ctype, version, len(piece)) + piece)
                    time.sleep(pause)
            else:
                client.sendall(rec_header + payload)
                if ctype == CHANGE_CIPHER_SPEC:
                    splitting = False
        pipe(upstream, client)
    except OSError:
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client: socket.socket, upstream_addr: tuple[str, int], fragment: int,
           pause: float) -> None:
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        upstream = socket.create_connection(upstream_addr, timeout=10)
    except OSError as exc:
        print(f"upstream {upstream_addr}: {exc}", flush=True)
        client.close()
        return
    upstream.settimeout(None)
    t = threading.Thread(target=server_to_client, args=(upstream, client, fragment, pause))
    t.start()
    pipe(client, upstream)
    t.join()
    client.close()
    upstream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="0.0.0.0:3306")
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--fragment", type=int, default=100)
    parser.add_argument("--mss", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.001)
    args = parser.parse_args()
    lhost, lport = args.listen.rsplit(":", 1)
    uhost, uport = args.upstream.rsplit(":", 1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, args.mss)
    listener.bind((lhost, int(lport)))
    listener.listen(8)
    print("listening", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(
            target=handle, args=(client, (uhost, int(uport)), args.fragment, args.pause),
            daemon=True,
        ).start()


if __name__ == "__main__":
    main()
