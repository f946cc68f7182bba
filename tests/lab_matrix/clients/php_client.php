<?php
// PHP's mysqlnd with the server certificate verified (name included), mysqli or PDO_MYSQL.
// Usage: php php_client.php mysqli|pdo HOST PORT USER PASSWORD CA
// Prints "OK" (exit 0) after SELECT 1, or "FAILED <error>" (exit 1).
[, $api, $host, $port, $user, $password, $ca] = $argv;
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
try {
    if ($api === 'mysqli') {
        $db = mysqli_init();
        mysqli_options($db, MYSQLI_OPT_CONNECT_TIMEOUT, 10);
        mysqli_options($db, MYSQLI_OPT_SSL_VERIFY_SERVER_CERT, true);
        mysqli_ssl_set($db, null, null, $ca, null, null);
        mysqli_real_connect($db, $host, $user, $password, null, (int)$port, null,
                            MYSQLI_CLIENT_SSL);
        $res = mysqli_query($db, 'SELECT 1');
        $res->fetch_all();
        mysqli_close($db);
    } else {
        $pdo = new PDO("mysql:host=$host;port=$port", $user, $password, [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_TIMEOUT => 10,
            PDO::MYSQL_ATTR_SSL_CA => $ca,
            PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => true,
        ]);
        $pdo->query('SELECT 1')->fetchAll();
        $pdo = null;
    }
} catch (Throwable $e) {
    // Warnings (the TLS layer's reason) go to stderr; the exception text is the outcome.
    echo 'FAILED ', get_class($e), ': ', $e->getMessage(), "\n";
    exit(1);
}
echo "OK\n";
exit(0);
