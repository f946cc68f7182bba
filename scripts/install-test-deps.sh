#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine, as root:
# the Debian packages (a real MariaDB server and client, tcpdump, tshark, dnsmasq, iproute2,
# openssl) and the project with its test extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for cmd_pkg in mariadbd:mariadb-server mariadb:mariadb-client tcpdump:tcpdump tshark:tshark \
               dumpcap:tshark dnsmasq:dnsmasq-base ip:iproute2 openssl:openssl chromium:chromium; do
    cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg##*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
        need+=("$pkg")
    fi
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q
    # wireshark-common asks whether non-root users may capture: the default (no) is fine.
    apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
bash scripts/install-clients.sh  # the real clients of tests/test_client_matrix.py
