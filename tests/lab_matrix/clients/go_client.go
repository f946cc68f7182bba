// go-sql-driver/mysql over TLS with the name checked: tls=custom registered with
// RegisterTLSConfig (RootCAs from CA, ServerName = HOST).
// Usage: go_client HOST PORT USER PASSWORD CA
// Prints "OK" (exit 0) after SELECT 1, or "FAILED <error>" (exit 1).
// With SSLKEYLOGFILE set, appends the TLS secrets there (tls.Config.KeyLogWriter).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
)

func fail(err error) {
	fmt.Printf("FAILED %v\n", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fmt.Println("usage: go_client HOST PORT USER PASSWORD CA")
		os.Exit(2)
	}
	host, port, user, password, caPath := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	pem, err := os.ReadFile(caPath)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fail(fmt.Errorf("no certificate in %s", caPath))
	}
	tlsConfig := &tls.Config{
		RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12,
	}
	if path := os.Getenv("SSLKEYLOGFILE"); path != "" {
		keylog, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0644)
		if err != nil {
			fail(err)
		}
		defer keylog.Close()
		tlsConfig.KeyLogWriter = keylog
	}
	err = mysql.RegisterTLSConfig("custom", tlsConfig)
	if err != nil {
		fail(err)
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = user, password
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	cfg.TLSConfig = "custom"
	cfg.Timeout = 10 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		fail(err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		fail(err)
	}
	fmt.Println("OK")
}
