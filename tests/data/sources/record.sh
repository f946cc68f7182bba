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
capture() {  # capture OUT -- tcpdump args...
  out=$1; shift
  tcpdump -U -w "$HERE/$out" "$@" >/dev/null 2>&1 &
  echo $! > "$WORK/tcpdump.pid"
  sleep 1.5
  fetch "http://127.0.0.1:8765/hello.txt"
  fetch "http://[::1]:8766/hello.txt"
  sleep 1
  kill -INT "$(cat "$WORK/tcpdump.pid")"; wait "$(cat "$WORK/tcpdump.pid")" || true
  rm -f "$WORK/tcpdump.pid"
}

serve 127.0.0.1 8765
serve ::1 8766
FILTER='tcp port 8765 or tcp port 8766'
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
ls -l "$HERE"/*.pcap "$HERE"/*.pcapng
