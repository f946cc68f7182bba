/* keylog_shim.c: an LD_PRELOAD library that makes any OpenSSL 1.1.1+/3.x client write the NSS
 * key log format (what SSLKEYLOGFILE means to Python, Node, Firefox) to $SSLKEYLOGFILE.
 *
 * It wraps SSL_new: before handing the call to the real SSL_new it installs a key-log
 * callback on the SSL_CTX. The real SSL_new and SSL_CTX_set_keylog_callback are looked up in
 * the dependency tree of the *caller* (dladdr of the return address, then dlsym on a handle of
 * that object), not with RTLD_NEXT: a library dlopen()ed with RTLD_LOCAL (a Python extension
 * such as mysql-connector-python's _mysql_connector with its own bundled libssl.so.3) is not
 * in the global scope, and a process may hold two libssl.so.3 (the system's and a bundled
 * one) whose SSL_CTX structures must not be mixed. RTLD_NEXT is the fallback.
 *
 * Built by tests/lab_matrix/clients.py (build_keylog_shim):
 *     gcc -shared -fPIC -O2 -o keylog_shim.so keylog_shim.c -ldl
 * It needs only OpenSSL's declarations (libssl-dev), and no libssl at link time: the same
 * shim works with the system's OpenSSL 3.0 and with a client's bundled OpenSSL 3.5.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

typedef SSL *(*ssl_new_fn)(SSL_CTX *);
typedef void (*set_keylog_fn)(SSL_CTX *, SSL_CTX_keylog_cb_func);

static void write_line(const SSL *ssl, const char *line)
{
    (void)ssl;
    const char *path = getenv("SSLKEYLOGFILE");
    if (path == NULL || *path == '\0' || line == NULL)
        return;
    size_t len = strlen(line);
    if (len > 4096)
        return;
    char buf[4098];
    memcpy(buf, line, len);
    buf[len] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t ignored = write(fd, buf, len + 1); /* one write: O_APPEND keeps lines whole */
    (void)ignored;
    close(fd);
}

/* Look NAME up in the object that called us (and its dependencies), else RTLD_NEXT. */
static void *lookup(void *caller, const char *name)
{
    Dl_info info;
    void *found = NULL;
    if (caller != NULL && dladdr(caller, &info) != 0 && info.dli_fname != NULL
        && info.dli_fname[0] != '\0') {
        void *handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (handle != NULL) {
            found = dlsym(handle, name);
            dlclose(handle);
        }
    }
    if (found == NULL || found == (void *)SSL_new)
        found = dlsym(RTLD_NEXT, name);
    return found == (void *)SSL_new ? NULL : found;
}

SSL *SSL_new(SSL_CTX *ctx)
{
    void *caller = __builtin_return_address(0);
    ssl_new_fn real_new = (ssl_new_fn)lookup(caller, "SSL_new");
    if (real_new == NULL)
        return NULL;
    set_keylog_fn set_keylog = (set_keylog_fn)lookup(caller, "SSL_CTX_set_keylog_callback");
    if (ctx != NULL && set_keylog != NULL)
        set_keylog(ctx, write_line);
    return real_new(ctx);
}
