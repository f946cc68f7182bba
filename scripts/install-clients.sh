#!/usr/bin/env bash
# Installs the real MySQL clients of the lab differential matrix (tests/test_client_matrix.py),
# as root on Debian 12. Safe to run again: installs only what is missing.
#   Debian: php-cli + php-mysql (mysqli, PDO_MYSQL on mysqlnd), golang-go +
#           golang-github-go-sql-driver-mysql-dev (built offline, GOPATH mode), nodejs + npm
#   PyPI:   mysql-connector-python (its C extension bundles libmysqlclient)
#   npm:    mysql2, into lab-run/npm (git-ignored; never committed)
#   Debian: gcc, libc6-dev, libssl-dev: the TLS 1.3 matrix (tests/test_client_matrix_tls13.py)
#           builds tests/lab_matrix/clients/keylog_shim.c, an LD_PRELOAD key-log library for
#           the OpenSSL C clients
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for cmd_pkg in php:php-cli go:golang-go node:nodejs npm:npm; do
    cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg##*:}
    command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
php -m 2>/dev/null | grep -qx mysqli || need+=(php-mysql)
[ -d /usr/share/gocode/src/github.com/go-sql-driver/mysql ] \
    || need+=(golang-github-go-sql-driver-mysql-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -f /usr/include/dlfcn.h ] || need+=(libc6-dev)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q -o DPkg::Lock::Timeout=600
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}" </dev/null
fi
python3 -c 'import mysql.connector' 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check mysql-connector-python
npm_dir=lab-run/npm
if ! [ -f "$npm_dir/node_modules/mysql2/package.json" ]; then
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] || echo '{"name":"capture-tls-lab-clients","private":true}' \
        >"$npm_dir/package.json"
    npm install --prefix "$npm_dir" --no-audit --no-fund --silent mysql2
fi
