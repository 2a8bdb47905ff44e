
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * smile-webhook input: bodies from a file or stdin, secrets from a file,
 * the environment or a terminal prompt, and option values.
 */


#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "smile_cli.h"


#define SMILE_CLI_READ_CHUNK    65536


static ssize_t smile_cli_read_fd(int fd, smile_cli_buf_t *buf, size_t max);
static int smile_cli_secret_file(const char *file,
    smile_cli_secrets_t *secrets);
static int smile_cli_secret_prompt(smile_cli_secrets_t *secrets);
static int smile_cli_add_secret(smile_cli_secrets_t *secrets,
    const unsigned char *p, size_t len, const char *name);
static void smile_cli_restore_tty(int signo);


static int             smile_cli_tty = -1;
static struct termios  smile_cli_tty_saved;


/* the whole of FILE, or of stdin when path is NULL or "-" */

int
smile_cli_read(const char *path, smile_cli_buf_t *buf)
{
    int          fd;
    ssize_t      n;
    const char  *name;

    buf->data = NULL;
    buf->len = 0;

    if (path == NULL || strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
        name = "standard input";

    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        name = path;

        if (fd == -1) {
            smile_cli_error("cannot open \"%s\": %s", path, strerror(errno));
            return SMILE_CLI_NOINPUT;
        }
    }

    n = smile_cli_read_fd(fd, buf, (size_t) -1);

    if (fd != STDIN_FILENO) {
        close(fd);
    }

    if (n == -1) {
        smile_cli_error("cannot read %s: %s", name,
                        errno ? strerror(errno) : "out of memory");
        smile_cli_buf_free(buf);
        return errno ? SMILE_CLI_NOINPUT : SMILE_CLI_FAILURE;
    }

    return SMILE_CLI_OK;
}


/* reads up to max + 1 bytes: -1 and errno on a read error, 0 errno on ENOMEM */

static ssize_t
smile_cli_read_fd(int fd, smile_cli_buf_t *buf, size_t max)
{
    size_t          size;
    ssize_t         n;
    unsigned char  *p;

    /* a bounded read gets one buffer: no copy of a secret is left behind */

    size = (max == (size_t) -1) ? 0 : max + 1;

    if (size) {
        buf->data = malloc(size);
        if (buf->data == NULL) {
            errno = 0;
            return -1;
        }
    }

    for ( ;; ) {

        if (buf->len == size) {
            size = size ? 2 * size : SMILE_CLI_READ_CHUNK;

            p = realloc(buf->data, size);
            if (p == NULL) {
                errno = 0;
                return -1;
            }

            buf->data = p;
        }

        n = read(fd, buf->data + buf->len, size - buf->len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        if (n == 0) {
            return (ssize_t) buf->len;
        }

        buf->len += n;

        if (buf->len > max) {
            return (ssize_t) buf->len;
        }
    }
}


void
smile_cli_buf_free(smile_cli_buf_t *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
}


/*
 * The secrets: --secret-file FILE, else $SMILE_WEBHOOK_SECRET, else a
 * prompt on the terminal.  Each becomes a pre-keyed HMAC and its bytes
 * are wiped.  Nothing is left to free after an error.
 */

int
smile_cli_secrets(const char *file, smile_cli_secrets_t *secrets)
{
    int          rc;
    const char  *env;

    secrets->elts = NULL;
    secrets->nelts = 0;

    env = getenv(SMILE_CLI_ENV_SECRET);

    if (file) {
        rc = smile_cli_secret_file(file, secrets);

    } else if (env && *env == '\0') {
        smile_cli_error(SMILE_CLI_ENV_SECRET " is set but empty");
        rc = SMILE_CLI_BAD_SECRET;

    } else if (env) {
        rc = smile_cli_add_secret(secrets, (const unsigned char *) env,
                                  strlen(env), "secret1");

    } else {
        rc = smile_cli_secret_prompt(secrets);
    }

    if (rc != SMILE_CLI_OK) {
        smile_cli_secrets_free(secrets);
    }

    return rc;
}


/* as smile_webhook_secret_file reads it */

static int
smile_cli_secret_file(const char *file, smile_cli_secrets_t *secrets)
{
    int               fd, rc;
    char              name[SMILE_CLI_SECRET_NAME];
    size_t            line;
    ssize_t           n;
    unsigned char    *p, *last, *eol, *end;
    smile_cli_buf_t   buf;

    fd = open(file, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        smile_cli_error("cannot open the secret file \"%s\": %s",
                        file, strerror(errno));
        return SMILE_CLI_NOINPUT;
    }

    buf.data = NULL;
    buf.len = 0;

    n = smile_cli_read_fd(fd, &buf, SMILE_CLI_SECRET_MAX);

    close(fd);

    if (n == -1) {
        rc = errno ? SMILE_CLI_NOINPUT : SMILE_CLI_FAILURE;
        smile_cli_error("cannot read the secret file \"%s\": %s", file,
                        errno ? strerror(errno) : "out of memory");
        goto done;
    }

    if (buf.len > SMILE_CLI_SECRET_MAX) {
        smile_cli_error("the secret file \"%s\" is larger than 64k", file);
        rc = SMILE_CLI_BAD_SECRET;
        goto done;
    }

    rc = SMILE_CLI_OK;
    line = 0;
    last = buf.data + buf.len;

    for (p = buf.data; p < last; p = eol + 1) {

        line++;

        eol = memchr(p, '\n', last - p);
        if (eol == NULL) {
            eol = last;
        }

        end = eol;

        if (end > p && end[-1] == '\r') {
            end--;
        }

        if (end == p || *p == '#') {
            continue;
        }

        snprintf(name, sizeof(name), "line%zu", line);

        rc = smile_cli_add_secret(secrets, p, end - p, name);
        if (rc != SMILE_CLI_OK) {
            goto done;
        }
    }

    if (secrets->nelts == 0) {
        smile_cli_error("the secret file \"%s\" contains no secret", file);
        rc = SMILE_CLI_BAD_SECRET;
    }

done:

    if (buf.data) {
        OPENSSL_cleanse(buf.data, buf.len);
        free(buf.data);
    }

    return rc;
}


static int
smile_cli_secret_prompt(smile_cli_secrets_t *secrets)
{
    int                rc;
    char               c;
    size_t             len;
    ssize_t            n;
    struct termios     t;
    struct sigaction   sa, old[3];
    unsigned char      secret[4096];
    static const char  prompt[] = "Smile webhook secret: ";
    static const int   signals[3] = { SIGINT, SIGTERM, SIGHUP };

    smile_cli_tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (smile_cli_tty == -1 || tcgetattr(smile_cli_tty, &smile_cli_tty_saved)
                               != 0)
    {
        smile_cli_error("no secret: give --secret-file FILE or set "
                        SMILE_CLI_ENV_SECRET " (there is no terminal to "
                        "prompt on)");
        if (smile_cli_tty != -1) {
            close(smile_cli_tty);
            smile_cli_tty = -1;
        }

        return SMILE_CLI_BAD_SECRET;
    }

    /* echo off until the line is read, and back on if interrupted */

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = smile_cli_restore_tty;
    sigemptyset(&sa.sa_mask);

    for (n = 0; n < 3; n++) {
        sigaction(signals[n], &sa, &old[n]);
    }

    t = smile_cli_tty_saved;
    t.c_lflag &= ~(ECHO | ECHOE | ECHOK);
    t.c_lflag |= ECHONL;

    (void) tcsetattr(smile_cli_tty, TCSAFLUSH, &t);

    if (write(smile_cli_tty, prompt, sizeof(prompt) - 1) == -1) {
        /* the prompt is a courtesy */
    }

    len = 0;
    rc = SMILE_CLI_OK;

    for ( ;; ) {
        n = read(smile_cli_tty, &c, 1);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n <= 0 || c == '\n') {
            break;
        }

        if (len == sizeof(secret)) {
            rc = SMILE_CLI_BAD_SECRET;
            continue;
        }

        secret[len++] = (unsigned char) c;
    }

    (void) tcsetattr(smile_cli_tty, TCSAFLUSH, &smile_cli_tty_saved);

    for (n = 0; n < 3; n++) {
        sigaction(signals[n], &old[n], NULL);
    }

    close(smile_cli_tty);
    smile_cli_tty = -1;

    if (len && secret[len - 1] == '\r') {
        len--;
    }

    if (rc != SMILE_CLI_OK) {
        smile_cli_error("the secret typed is longer than %zu bytes",
                        sizeof(secret));

    } else if (len == 0) {
        smile_cli_error("the secret typed is empty");
        rc = SMILE_CLI_BAD_SECRET;

    } else {
        rc = smile_cli_add_secret(secrets, secret, len, "secret1");
    }

    OPENSSL_cleanse(secret, sizeof(secret));

    return rc;
}


static void
smile_cli_restore_tty(int signo)
{
    if (smile_cli_tty != -1) {
        (void) tcsetattr(smile_cli_tty, TCSAFLUSH, &smile_cli_tty_saved);
    }

    signal(signo, SIG_DFL);
    raise(signo);
}


static int
smile_cli_add_secret(smile_cli_secrets_t *secrets, const unsigned char *p,
    size_t len, const char *name)
{
    smile_cli_secret_t  *s;

    s = realloc(secrets->elts, (secrets->nelts + 1) * sizeof(*s));
    if (s == NULL) {
        smile_cli_error("out of memory");
        return SMILE_CLI_FAILURE;
    }

    secrets->elts = s;
    s = &s[secrets->nelts];

    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);

    if (smile_hmac_key_init(&s->key, p, len) != 0) {
        smile_cli_error("HMAC-SHA512 key setup failed");
        return SMILE_CLI_FAILURE;
    }

    secrets->nelts++;

    return SMILE_CLI_OK;
}


void
smile_cli_secrets_free(smile_cli_secrets_t *secrets)
{
    size_t  i;

    for (i = 0; i < secrets->nelts; i++) {
        smile_hmac_key_free(&secrets->elts[i].key);
    }

    free(secrets->elts);
    secrets->elts = NULL;
    secrets->nelts = 0;
}


/* "90", "90s", "5m", "1h30m", "2d", "1w"; "off" is 0 */

int
smile_cli_parse_seconds(const char *s, long long *out)
{
    long long   total, n, unit;
    const char *p;

    if (strcmp(s, "off") == 0) {
        *out = 0;
        return 0;
    }

    total = 0;
    p = s;

    if (*p == '\0') {
        return -1;
    }

    while (*p) {

        if (*p < '0' || *p > '9') {
            return -1;
        }

        n = 0;

        while (*p >= '0' && *p <= '9') {
            if (n > 100000000LL) {
                return -1;
            }

            n = n * 10 + (*p++ - '0');
        }

        switch (*p) {
        case 's': unit = 1; p++; break;
        case 'm': unit = 60; p++; break;
        case 'h': unit = 3600; p++; break;
        case 'd': unit = 86400; p++; break;
        case 'w': unit = 604800; p++; break;
        case '\0': unit = 1; break;
        default: return -1;
        }

        total += n * unit;

        if (total > 100LL * 365 * 86400) {
            return -1;
        }
    }

    *out = total;

    return 0;
}


/* an RFC 3339 time, as createdAt is parsed, or "@SECONDS" */

int
smile_cli_parse_now(const char *s, long long *out)
{
    char       *end;
    long long   t;

    if (*s == '@') {
        errno = 0;
        t = strtoll(s + 1, &end, 10);

        if (errno || end == s + 1 || *end != '\0') {
            return -1;
        }

        *out = t;
        return 0;
    }

    return smile_parse_time((const unsigned char *) s, strlen(s), out);
}


/* an event type as given on the command line, upper-cased and checked */

int
smile_cli_upper_type(const char *s, char *out, size_t size)
{
    size_t  i, len;

    len = strlen(s);

    if (len >= size) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        out[i] = (s[i] >= 'a' && s[i] <= 'z') ? s[i] - 'a' + 'A' : s[i];
    }

    out[len] = '\0';

    return smile_is_type((const unsigned char *) out, len) ? 0 : -1;
}
