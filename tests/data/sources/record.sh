#!/bin/sh
# Records the real captures in this directory (run as root on Linux; needs tcpdump, dumpcap,
# iproute2, python3). Traffic: python -m http.server on loopback (IPv4 127.0.0.1 and IPv6 ::1)
# or in a network namespace reached over a veth pair, fetched with urllib.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK"/*.pid 2>/dev/null) 2>/dev/null || true; ip netns del ctls_src 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir "$WORK/www" && printf 'hello from capture-tls tests\n' > "$WORK/www/hello.txt"

serve() {  # serve ADDR PORT [netns]
  if [ -n "${3:-}" ]; then
    ip netns exec "$3" python3 -m http.server -b "$1" -d "$WORK/www" "$2" >/dev/null 2>&1 &
  else
    python3 -m http.server -b "$1" -d "$WORK/www" "$2" >/dev/null 2>&1 &
  fi
  echo $! > "$WORK/http$2.pid"
  sleep 1
}
fetch() {  # fetch URL
  python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read()" "$1"
}
datagrams() {  # one UDP datagram each to closed ports: the kernel answers ICMP unreachable
  python3 -c "import socket
for fam, addr in ((socket.AF_INET, ('127.0.0.1', 8768)), (socket.AF_INET6, ('::1', 8768))):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.sendto(b'capture-tls udp probe', addr); s.close()"
}
capture() {  # capture OUT -- tcpdump args...
  out=$1; shift
  tcpdump -U -w "$HERE/$out" "$@" >/dev/null 2>&1 &
  echo $! > "$WORK/tcpdump.pid"
  sleep 1.5
  fetch "http://127.0.0.1:8765/hello.txt"
  fetch "http://[::1]:8766/hello.txt"
  datagrams
  sleep 1
  kill -INT "$(cat "$WORK/tcpdump.pid")"; wait "$(cat "$WORK/tcpdump.pid")" || true
  rm -f "$WORK/tcpdump.pid"
}

serve 127.0.0.1 8765
serve ::1 8766
FILTER='tcp port 8765 or tcp port 8766 or udp port 8768 or icmp or icmp6'
capture lo_en10mb.pcap -i lo "$FILTER"
capture any_sll.pcap -i any -y LINUX_SLL "$FILTER"
capture any_sll2.pcap -i any -y LINUX_SLL2 "$FILTER"
capture lo_nano.pcap -i lo --time-stamp-precision=nano "$FILTER"
capture lo_snap60.pcap -i lo -s 60 "$FILTER"

# Several interfaces in one pcapng: loopback plus a veth into a namespace of our own.
ip netns add ctls_src
ip link add ctls_v0 type veth peer name ctls_v1
ip link set ctls_v1 netns ctls_src
ip addr add 10.199.0.1/24 dev ctls_v0 && ip link set ctls_v0 up
ip -n ctls_src addr add 10.199.0.2/24 dev ctls_v1
ip -n ctls_src link set ctls_v1 up && ip -n ctls_src link set lo up
serve 10.199.0.2 8767 ctls_src
dumpcap -q -i lo -f "$FILTER" -i ctls_v0 -f "tcp port 8767" -i any -y LINUX_SLL -f "tcp port 8767" -w "$HERE/multi_if.pcapng" &
echo $! > "$WORK/dumpcap.pid"
sleep 2
fetch "http://127.0.0.1:8765/hello.txt"
fetch "http://10.199.0.2:8767/hello.txt"
fetch "http://[::1]:8766/hello.txt"
sleep 1
kill -INT "$(cat "$WORK/dumpcap.pid")"; wait "$(cat "$WORK/dumpcap.pid")" || true
rm -f "$WORK/dumpcap.pid"
ip link del ctls_v0 2>/dev/null || true


# keylog.txt: the NSS key log of one real TLS 1.3 connection over loopback (Python's ssl
# module, a throw-away self-signed key), used by derive.py for a Decryption Secrets Block.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -keyout "$WORK/k.pem" -out "$WORK/c.pem" 2>/dev/null
python3 - "$WORK" "$HERE/keylog.txt" <<'PY'
import socket, ssl, sys, threading
work, out = sys.argv[1], sys.argv[2]
srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); srv.load_cert_chain(f"{work}/c.pem", f"{work}/k.pem")
cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); cli.load_verify_locations(f"{work}/c.pem")
open(out, "w").close(); cli.keylog_filename = out
ls = socket.create_server(("127.0.0.1", 0))
def accept():
    c, _ = ls.accept()
    with srv.wrap_socket(c, server_side=True) as s: s.recv(10)
t = threading.Thread(target=accept); t.start()
with cli.wrap_socket(socket.create_connection(ls.getsockname()), server_hostname="localhost") as s:
    s.sendall(b"hi")
t.join()
PY
