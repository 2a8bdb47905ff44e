
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * smile-webhook spool: a spool directory and its records, read.  The
 * format is the module's (see the opening comments of
 * ngx_http_smile_webhook_spool.c and ngx_http_smile_webhook_replay.c):
 *
 *     PATH/ev-RECEIVED-ATTEMPTS-ID        an event to deliver
 *     PATH/tmp-PID-N-ID                   a write in progress (or a crash's)
 *     PATH/dead/ev-RECEIVED-ATTEMPTS-ID   not delivered within "keep"
 *
 * and in a record: "SMILE-SPOOL 1", "key: value" lines, a blank line and
 * the body.  Metadata comes from the name and those lines; the body and
 * the signature header's value are printed only when asked for.
 */


#define _GNU_SOURCE                 /* memmem() */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>

#include "smile_cli.h"


#define SMILE_CLI_SPOOL_MAGIC       "SMILE-SPOOL 1\n"
#define SMILE_CLI_SPOOL_HEAD_MAX    (1024 * 1024)
#define SMILE_CLI_SPOOL_CHUNK       16384
#define SMILE_CLI_SPOOL_NUMBER_MAX  18


/* a line of a record, and where its value goes */
typedef struct {
    const char                 *name;
    size_t                      offset;
    unsigned                    required:1;
} smile_cli_spool_field_t;


static int smile_cli_spool_scan(smile_cli_spool_t *sp, int dir,
    unsigned dead);
static int smile_cli_spool_number(const unsigned char *p, size_t len,
    long long *out);
static int smile_cli_spool_cmp(const void *a, const void *b);
static const char *smile_cli_spool_parse(smile_cli_head_t *h,
    const smile_cli_record_t *rec);
static int smile_cli_spool_hidden(const smile_cli_str_t *name,
    const smile_cli_spool_conf_t *conf);
static void smile_cli_spool_line(const char *key, const smile_cli_str_t *s);


static const smile_cli_spool_field_t  smile_cli_spool_fields[] = {
    { "received", offsetof(smile_cli_head_t, received), 1 },
    { "socket", offsetof(smile_cli_head_t, socket), 1 },
    { "host", offsetof(smile_cli_head_t, host), 0 },
    { "uri", offsetof(smile_cli_head_t, uri), 1 },
    { "id", offsetof(smile_cli_head_t, id), 1 },
    { "type", offsetof(smile_cli_head_t, type), 1 },
    { "created-at", offsetof(smile_cli_head_t, created_at), 0 },
    { "user-id", offsetof(smile_cli_head_t, user_id), 0 },
    { "length", offsetof(smile_cli_head_t, length), 1 },
    { NULL, 0, 0 }
};


/* request headers whose values show prints without --headers */
static const char  *smile_cli_spool_plain[] = {
    "Accept",
    "Accept-Encoding",
    "Content-Encoding",
    "Content-Type",
    "User-Agent",
    NULL
};


/* PATH and PATH/dead read, their records sorted: PATH's first, by time */

int
smile_cli_spool_open(smile_cli_spool_t *sp, const char *path)
{
    int  rc;

    memset(sp, 0, sizeof(smile_cli_spool_t));
    sp->path = path;
    sp->dead = -1;

    sp->dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (sp->dir == -1) {
        smile_cli_error("cannot open the spool \"%s\": %s", path,
                        strerror(errno));
        return SMILE_CLI_NOINPUT;
    }

    sp->dead = openat(sp->dir, "dead", O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                       | O_CLOEXEC);

    if (sp->dead == -1 && errno != ENOENT) {
        smile_cli_error("cannot open \"%s/dead\": %s", path,
                        strerror(errno));
        smile_cli_spool_close(sp);
        return SMILE_CLI_NOINPUT;
    }

    rc = smile_cli_spool_scan(sp, sp->dir, 0);

    if (rc == SMILE_CLI_OK && sp->dead != -1) {
        rc = smile_cli_spool_scan(sp, sp->dead, 1);
    }

    if (rc != SMILE_CLI_OK) {
        smile_cli_spool_close(sp);
        return rc;
    }

    if (sp->nelts) {
        qsort(sp->elts, sp->nelts, sizeof(smile_cli_record_t),
              smile_cli_spool_cmp);
    }

    return SMILE_CLI_OK;
}


void
smile_cli_spool_close(smile_cli_spool_t *sp)
{
    if (sp->dead != -1) {
        close(sp->dead);
        sp->dead = -1;
    }

    if (sp->dir != -1) {
        close(sp->dir);
        sp->dir = -1;
    }

    free(sp->elts);
    sp->elts = NULL;
    sp->nelts = 0;
}


/* a directory's regular files: records, tmp-*, others (not followed) */

static int
smile_cli_spool_scan(smile_cli_spool_t *sp, int dir, unsigned dead)
{
    int                  fd;
    DIR                 *d;
    size_t               n;
    struct stat          st;
    struct dirent       *de;
    smile_cli_record_t  *rec;

    fd = dup(dir);

    d = (fd == -1) ? NULL : fdopendir(fd);

    if (d == NULL) {
        smile_cli_error("cannot read \"%s%s\": %s", sp->path,
                        dead ? "/dead" : "", strerror(errno));
        if (fd != -1) {
            close(fd);
        }

        return SMILE_CLI_NOINPUT;
    }

    for ( ;; ) {
        errno = 0;

        de = readdir(d);

        if (de == NULL) {
            break;
        }

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0
            || (!dead && (strcmp(de->d_name, ".lock") == 0
                          || strcmp(de->d_name, "replay.sock") == 0
                          || strcmp(de->d_name, "dead") == 0)))
        {
            continue;
        }

        if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
            /* gone meanwhile: delivered, or renamed by the replayer */
            continue;
        }

        if (!S_ISREG(st.st_mode)) {
            sp->foreign++;
            continue;
        }

        if (strncmp(de->d_name, "tmp-", 4) == 0) {
            sp->temps++;
            continue;
        }

        if (sp->nelts == sp->nalloc) {
            n = sp->nalloc ? 2 * sp->nalloc : 64;

            rec = realloc(sp->elts, n * sizeof(smile_cli_record_t));
            if (rec == NULL) {
                smile_cli_error("out of memory");
                closedir(d);
                return SMILE_CLI_FAILURE;
            }

            sp->elts = rec;
            sp->nalloc = n;
        }

        rec = &sp->elts[sp->nelts];

        if (smile_cli_spool_name(de->d_name, rec) != 0) {
            sp->foreign++;
            continue;
        }

        rec->size = (long long) st.st_size;
        rec->dead = dead;
        rec->selected = 0;
        sp->nelts++;
    }

    if (errno) {
        smile_cli_error("cannot read \"%s%s\": %s", sp->path,
                        dead ? "/dead" : "", strerror(errno));
        closedir(d);
        return SMILE_CLI_NOINPUT;
    }

    closedir(d);

    return SMILE_CLI_OK;
}


/* ev-RECEIVED-ATTEMPTS-ID, as the replayer reads it; 0 if it is one */

int
smile_cli_spool_name(const char *name, smile_cli_record_t *rec)
{
    long long    attempts;
    const char  *p, *dash;

    if (strncmp(name, "ev-", 3) != 0 || strlen(name) >= sizeof(rec->name)) {
        return -1;
    }

    p = name + 3;
    dash = strchr(p, '-');

    if (dash == NULL
        || smile_cli_spool_number((const unsigned char *) p, dash - p,
                                  &rec->received) != 0)
    {
        return -1;
    }

    p = dash + 1;
    dash = strchr(p, '-');

    if (dash == NULL
        || smile_cli_spool_number((const unsigned char *) p, dash - p,
                                  &attempts) != 0
        || attempts == 0
        || !smile_is_id((const unsigned char *) dash + 1, strlen(dash + 1)))
    {
        return -1;
    }

    rec->attempts = (unsigned long) attempts;
    rec->id = dash + 1 - name;
    strcpy(rec->name, name);

    return 0;
}


/* 1 to 18 decimal digits */

static int
smile_cli_spool_number(const unsigned char *p, size_t len, long long *out)
{
    size_t  i;

    if (len == 0 || len > SMILE_CLI_SPOOL_NUMBER_MAX) {
        return -1;
    }

    *out = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        *out = *out * 10 + (p[i] - '0');
    }

    return 0;
}


static int
smile_cli_spool_cmp(const void *a, const void *b)
{
    const smile_cli_record_t  *x = a, *y = b;

    if (x->dead != y->dead) {
        return x->dead ? 1 : -1;
    }

    if (x->received != y->received) {
        return x->received < y->received ? -1 : 1;
    }

    return strcmp(x->name, y->name);
}


/*
 * A record's lines, read up to the blank one, and checked: what the
 * replayer needs, the id of the name, and a body of "length" bytes.
 */

int
smile_cli_spool_head(smile_cli_spool_t *sp, smile_cli_record_t *rec,
    smile_cli_head_t *h, int quiet)
{
    int             fd;
    char           *end;
    size_t          from;
    ssize_t         n;
    const char     *err;
    struct stat     st;
    unsigned char  *p;

    memset(h, 0, sizeof(smile_cli_head_t));

    fd = openat(rec->dead ? sp->dead : sp->dir, rec->name,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd == -1 && errno == ENOENT) {
        if (!quiet) {
            smile_cli_error("%s/%s%s: it is gone (delivered or moved "
                            "meanwhile)", sp->path, smile_cli_spool_dir(rec),
                            rec->name);
        }

        return SMILE_CLI_REFUSED;
    }

    if (fd == -1 || fstat(fd, &st) == -1) {
        smile_cli_error("cannot read %s/%s%s: %s", sp->path,
                        smile_cli_spool_dir(rec), rec->name,
                        strerror(errno));
        if (fd != -1) {
            close(fd);
        }

        return SMILE_CLI_NOINPUT;
    }

    rec->size = (long long) st.st_size;
    err = NULL;
    end = NULL;

    while (end == NULL) {

        if (h->buf.len >= SMILE_CLI_SPOOL_HEAD_MAX) {
            err = "no blank line in its first megabyte";
            break;
        }

        p = realloc(h->buf.data, h->buf.len + SMILE_CLI_SPOOL_CHUNK);
        if (p == NULL) {
            err = "out of memory";
            break;
        }

        h->buf.data = p;

        n = read(fd, p + h->buf.len, SMILE_CLI_SPOOL_CHUNK);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            err = strerror(errno);
            break;
        }

        if (n == 0) {
            err = "it ends before the blank line that ends its header "
                  "lines";
            break;
        }

        from = h->buf.len ? h->buf.len - 1 : 0;
        h->buf.len += n;

        end = memmem(p + from, h->buf.len - from, "\n\n", 2);
    }

    close(fd);

    if (err == NULL) {
        h->len = (unsigned char *) end + 2 - h->buf.data;
        h->body = rec->size - (long long) h->len;

        err = smile_cli_spool_parse(h, rec);
    }

    if (err) {
        smile_cli_error("%s/%s%s: malformed record: %s", sp->path,
                        smile_cli_spool_dir(rec), rec->name, err);

        smile_cli_buf_free(&h->buf);
        return SMILE_CLI_NOINPUT;
    }

    return SMILE_CLI_OK;
}


/* NULL, or why the lines are not a record's */

static const char *
smile_cli_spool_parse(smile_cli_head_t *h, const smile_cli_record_t *rec)
{
    size_t                          len;
    long long                       n;
    const unsigned char            *p, *eol, *last, *colon;
    smile_cli_str_t                *s;
    const smile_cli_spool_field_t  *f;

    p = h->buf.data;
    last = p + h->len - 1;      /* the blank line */

    len = sizeof(SMILE_CLI_SPOOL_MAGIC) - 1;

    if (h->len < len || memcmp(p, SMILE_CLI_SPOOL_MAGIC, len) != 0) {
        return "its first line is not \"SMILE-SPOOL 1\"";
    }

    for (p += len; p < last; p = eol + 1) {
        eol = memchr(p, '\n', last - p);
        colon = memchr(p, ':', eol - p);

        if (colon == NULL || colon + 1 == eol || colon[1] != ' ') {
            return "a line is not \"key: value\"";
        }

        len = colon - p;

        if (len == 6 && memcmp(p, "header", 6) == 0) {
            if (memmem(colon + 2, eol - colon - 2, ": ", 2) == NULL) {
                return "a \"header:\" line is not \"header: Name: value\"";
            }

            continue;
        }

        for (f = smile_cli_spool_fields; f->name; f++) {
            if (strlen(f->name) == len && memcmp(f->name, p, len) == 0) {
                break;
            }
        }

        if (f->name == NULL) {
            /* a later version's line */
            continue;
        }

        s = (smile_cli_str_t *) ((char *) h + f->offset);

        if (s->data) {
            return "a line is repeated";
        }

        s->data = colon + 2;
        s->len = eol - colon - 2;
    }

    for (f = smile_cli_spool_fields; f->name; f++) {
        s = (smile_cli_str_t *) ((char *) h + f->offset);

        if (f->required && (s->data == NULL || s->len == 0)) {
            return "a line the replayer needs is missing (received, "
                   "socket, uri, id, type or length)";
        }

        if (s->data == NULL) {
            s->data = (const unsigned char *) "";
        }
    }

    if (smile_cli_spool_number(h->received.data, h->received.len, &h->time)
        != 0)
    {
        return "its \"received\" is not a number";
    }

    if (h->id.len != strlen(rec->name + rec->id)
        || memcmp(h->id.data, rec->name + rec->id, h->id.len) != 0)
    {
        return "its \"id\" is not the id in its name";
    }

    if (smile_cli_spool_number(h->length.data, h->length.len, &n) != 0) {
        return "its \"length\" is not a number";
    }

    if (n != h->body) {
        return "its body is not \"length\" bytes long (a truncated or "
               "altered record)";
    }

    return NULL;
}


void
smile_cli_spool_print_head(smile_cli_spool_t *sp,
    const smile_cli_record_t *rec, const smile_cli_head_t *h,
    const smile_cli_spool_conf_t *conf, long long now)
{
    const unsigned char   *p, *eol, *last, *value;
    smile_cli_str_t        name;
    char                   t[SMILE_CLI_SPOOL_TIME_LEN];
    char                   age[SMILE_CLI_SPOOL_AGE_LEN];

    printf("file: %s/%s%s\n", sp->path, smile_cli_spool_dir(rec),
           rec->name);
    printf("state: %s\n", rec->dead ? "dead (not delivered within keep)"
                                    : "spool (to be delivered)");

    smile_cli_spool_time(h->time, t);
    smile_cli_spool_age(now - h->time, age);
    printf("received: %s (%lld, %s ago)\n", t, h->time, age);

    if (h->time != rec->received) {
        smile_cli_spool_time(rec->received, t);
        smile_cli_spool_age(now - rec->received, age);
        printf("requeued: %s (%s ago; the time in its name, from which "
               "keep counts)\n", t, age);
    }

    printf("attempts: %lu\n", rec->attempts);
    printf("size: %lld\n", rec->size);

    smile_cli_spool_line("socket", &h->socket);
    smile_cli_spool_line("host", &h->host);
    smile_cli_spool_line("uri", &h->uri);
    smile_cli_spool_line("id", &h->id);
    smile_cli_spool_line("type", &h->type);
    smile_cli_spool_line("created-at", &h->created_at);
    smile_cli_spool_line("user-id", &h->user_id);

    /* the headers, in the record's order */

    last = h->buf.data + h->len - 1;

    for (p = h->buf.data; p < last; p = eol + 1) {
        eol = memchr(p, '\n', last - p);

        if (eol - p < 8 || memcmp(p, "header: ", 8) != 0) {
            continue;
        }

        name.data = p + 8;
        value = memmem(name.data, eol - name.data, ": ", 2);
        name.len = value - name.data;
        value += 2;

        fputs("header: ", stdout);
        smile_cli_spool_print(name.data, name.len);

        switch (smile_cli_spool_hidden(&name, conf)) {

        case 1:
            printf(": [%zu byte%s, not shown; --signature shows it]\n",
                   (size_t) (eol - value), eol - value == 1 ? "" : "s");
            break;

        case 2:
            printf(": [%zu byte%s, not shown; --headers shows it]\n",
                   (size_t) (eol - value), eol - value == 1 ? "" : "s");
            break;

        default:
            fputs(": ", stdout);
            smile_cli_spool_print(value, eol - value);
            putchar('\n');
        }
    }

    smile_cli_spool_line("length", &h->length);
}


/* the body, after a blank line, byte for byte */

int
smile_cli_spool_print_body(smile_cli_spool_t *sp,
    const smile_cli_record_t *rec, const smile_cli_head_t *h)
{
    int        fd;
    off_t      off;
    ssize_t    n;
    long long  left;
    char       buf[SMILE_CLI_SPOOL_CHUNK];

    putchar('\n');

    fd = openat(rec->dead ? sp->dead : sp->dir, rec->name,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    off = (off_t) h->len;
    left = h->body;

    while (fd != -1 && left > 0) {
        n = pread(fd, buf, left < (long long) sizeof(buf) ? (size_t) left
                                                          : sizeof(buf),
                  off);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            errno = n ? errno : EIO;
            break;
        }

        fwrite(buf, 1, n, stdout);
        off += n;
        left -= n;
    }

    if (fd == -1 || left > 0) {
        smile_cli_error("cannot read the body of %s/%s%s: %s", sp->path,
                        smile_cli_spool_dir(rec), rec->name,
                        strerror(errno));
        if (fd != -1) {
            close(fd);
        }

        return SMILE_CLI_NOINPUT;
    }

    close(fd);

    return SMILE_CLI_OK;
}


/*
 * 0: the value is shown; 1: it is the signature (--signature-header, or a
 * name with "signature" in it); 2: not among the plain ones (--headers).
 */

static int
smile_cli_spool_hidden(const smile_cli_str_t *name,
    const smile_cli_spool_conf_t *conf)
{
    size_t        i;
    const char  **plain;

    if (strlen(conf->header) == name->len
        && strncasecmp(conf->header, (const char *) name->data, name->len)
           == 0)
    {
        return conf->signature ? 0 : 1;
    }

    for (i = 0; i + 9 <= name->len; i++) {
        if (strncasecmp((const char *) name->data + i, "signature", 9) == 0) {
            return conf->signature ? 0 : 1;
        }
    }

    if (conf->headers) {
        return 0;
    }

    for (plain = smile_cli_spool_plain; *plain; plain++) {
        if (strlen(*plain) == name->len
            && strncasecmp(*plain, (const char *) name->data, name->len)
               == 0)
        {
            return 0;
        }
    }

    return 2;
}


static void
smile_cli_spool_line(const char *key, const smile_cli_str_t *s)
{
    printf("%s: ", key);
    smile_cli_spool_print(s->data, s->len);
    putchar('\n');
}


/* printable ASCII as is, other bytes (and "\") as \xNN */

void
smile_cli_spool_print(const unsigned char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
            putchar(p[i]);

        } else {
            printf("\\x%02x", p[i]);
        }
    }
}


/* RFC 3339, UTC */

void
smile_cli_spool_time(long long t, char *buf)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, SMILE_CLI_SPOOL_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ",
                    &tm) == 0)
    {
        snprintf(buf, SMILE_CLI_SPOOL_TIME_LEN, "@%lld", t);
    }
}


/* 42s, 3m07s, 5h02m, 2d03h */

void
smile_cli_spool_age(long long s, char *buf)
{
    const char  *sign;

    sign = "";

    if (s < 0) {
        sign = "-";
        s = -s;
    }

    if (s < 60) {
        snprintf(buf, SMILE_CLI_SPOOL_AGE_LEN, "%s%llds", sign, s);

    } else if (s < 3600) {
        snprintf(buf, SMILE_CLI_SPOOL_AGE_LEN, "%s%lldm%02llds", sign,
                 s / 60, s % 60);

    } else if (s < 86400) {
        snprintf(buf, SMILE_CLI_SPOOL_AGE_LEN, "%s%lldh%02lldm", sign,
                 s / 3600, s % 3600 / 60);

    } else {
        snprintf(buf, SMILE_CLI_SPOOL_AGE_LEN, "%s%lldd%02lldh", sign,
                 s / 86400, s % 86400 / 3600);
    }
}


const char *
smile_cli_spool_where(const smile_cli_record_t *rec)
{
    return rec->dead ? "dead" : "spool";
}


/* the directory of a record in PATH: "" or "dead/" */

const char *
smile_cli_spool_dir(const smile_cli_record_t *rec)
{
    return rec->dead ? "dead/" : "";
}
