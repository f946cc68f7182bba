// Node's mysql2 over TLS: ssl {ca, rejectUnauthorized: true}, with or without verifyIdentity.
// Usage: node node_client.js ca|identity HOST PORT USER PASSWORD CA
// Prints "OK" (exit 0) after SELECT 1, or "FAILED <error>" (exit 1).
// With SSLKEYLOGFILE set, appends the TLS secrets there: every socket that tls.connect
// returns (mysql2 upgrades its connection with it) gets a 'keylog' listener.
'use strict';
const fs = require('fs');
const tls = require('tls');
const keylogFile = process.env.SSLKEYLOGFILE;
if (keylogFile) {
  const connect = tls.connect;
  tls.connect = function (...args) {
    const socket = connect.apply(this, args);
    socket.on('keylog', (line) => fs.appendFileSync(keylogFile, line, { mode: 0o644 }));
    return socket;
  };
}
const mysql = require('mysql2');

const [mode, host, port, user, password, ca] = process.argv.slice(2);
const ssl = { ca: fs.readFileSync(ca), rejectUnauthorized: true };
if (mode === 'identity') ssl.verifyIdentity = true;
const conn = mysql.createConnection({
  host, port: Number(port), user, password, ssl, connectTimeout: 10000,
});
conn.query('SELECT 1', (err) => {
  if (err) {
    console.log(`FAILED ${err.code || err.name}: ${err.message}`);
    conn.destroy();
    process.exit(1);
  }
  conn.end(() => {
    console.log('OK');
    process.exit(0);
  });
});
