
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The replayer: delivers spooled events again until the app takes them.
 *
 * It is the manager of the spool directory's nginx path, so nginx runs it
 * in its cache manager process: one process, restarted by the master when
 * it dies and on every reload, apart from the workers (its file work does
 * not stall a client).  A lock on PATH/.lock keeps it to one process at a
 * time while an old cache manager is still exiting after a reload.
 *
 * Every second it scans the directory: counts the events and bytes for
 * the status location, moves events older than "keep" to PATH/dead/, and
 * starts the deliveries that are due.  A delivery is an HTTP/1.1 request
 * to PATH/replay.sock, a listener of the server the event came to: the
 * stored URI, Host, headers and body, plus X-Smile-Replay with this node's
 * token and the attempt number.  There the module checks it again (the
 * signature, dedupe; not the address or the replay window), adds
 * X-Smile-Delivery-Attempt, and proxies it as configured.  A 2xx removes
 * the file; anything else renames it with one more attempt and a new
 * mtime, and it is due again after retry * 2^(attempts - 1), at most an
 * hour (and never less than retry).
 */


#include "ngx_http_smile_webhook_module.h"

#include <dirent.h>
#include <sys/file.h>
#include <hiredis/hiredis.h>


#define NGX_HTTP_SMILE_REPLAY_SLOTS     8
#define NGX_HTTP_SMILE_REPLAY_DUE       1024
#define NGX_HTTP_SMILE_REPLAY_TIMEOUT   120000
#define NGX_HTTP_SMILE_REPLAY_SCAN      1000
#define NGX_HTTP_SMILE_REPLAY_BACKOFF   3600
#define NGX_HTTP_SMILE_REPLAY_TEMP_AGE  3600
#define NGX_HTTP_SMILE_REPLAY_NAME      256


typedef struct ngx_http_smile_webhook_replayer_s
    ngx_http_smile_webhook_replayer_t;


/* one delivery in progress */
typedef struct {
    ngx_http_smile_webhook_replayer_t  *rp;
    ngx_pool_t                         *pool;
    ngx_peer_connection_t               peer;
    ngx_buf_t                          *out;
    u_char                              in[16];     /* "HTTP/1.1 200" */
    size_t                              nin;
    ngx_uint_t                          attempts;   /* made before this */
    time_t                              received;
    off_t                               size;
    u_char                              id[SMILE_ID_MAX + 1];
    u_char                              name[NGX_HTTP_SMILE_REPLAY_NAME];
    ngx_str_t                           entry;      /* in the stream */
    ngx_event_t                         touch;      /* keeps it ours */
    unsigned                            busy:1;
} ngx_http_smile_webhook_replay_t;


/* the replayer's own state, in the cache manager process */
struct ngx_http_smile_webhook_replayer_s {
    ngx_http_smile_webhook_spool_t     *spool;
    ngx_fd_t                            lock;
    ngx_str_t                           stream;     /* the Redis key */
    ngx_str_t                           consumer;   /* HOST:PATH */
    unsigned                            group:1;    /* created */
    unsigned                            asking:1;   /* a command is out */
    unsigned                            again:1;    /* a pass is due */
    ngx_uint_t                          ndue;
    ngx_uint_t                          next;
    u_char                             *due;        /* names, fixed size */
    ngx_http_smile_webhook_replay_t     slots[NGX_HTTP_SMILE_REPLAY_SLOTS];
};


/* a name of the spool: ev-RECEIVED-ATTEMPTS-ID */
typedef struct {
    time_t                              received;
    ngx_uint_t                          attempts;
    u_char                             *id;
} ngx_http_smile_webhook_entry_t;


static ngx_http_smile_webhook_replayer_t *ngx_http_smile_webhook_replayer(
    ngx_http_smile_webhook_spool_t *spool);
static void ngx_http_smile_webhook_replay_scan(
    ngx_http_smile_webhook_replayer_t *rp);
static ngx_int_t ngx_http_smile_webhook_replay_entry(u_char *name,
    ngx_http_smile_webhook_entry_t *e);
static ngx_int_t ngx_http_smile_webhook_replay_busy(
    ngx_http_smile_webhook_replayer_t *rp, u_char *name);
static void ngx_http_smile_webhook_replay_dead(
    ngx_http_smile_webhook_replayer_t *rp, int dir, u_char *name,
    ngx_http_smile_webhook_entry_t *e);
static void ngx_http_smile_webhook_replay_next(
    ngx_http_smile_webhook_replayer_t *rp);
static ngx_int_t ngx_http_smile_webhook_replay_start(
    ngx_http_smile_webhook_replay_t *rs, u_char *name);
static ngx_int_t ngx_http_smile_webhook_replay_load(
    ngx_http_smile_webhook_replay_t *rs, ngx_str_t *file);
static ngx_int_t ngx_http_smile_webhook_replay_request(
    ngx_http_smile_webhook_replay_t *rs, ngx_str_t *file,
    ngx_str_t *socket);
static u_char *ngx_http_smile_webhook_replay_fields(ngx_str_t *file,
    ngx_str_t *uri, ngx_str_t *host, ngx_str_t *socket, size_t *headers);
static ngx_int_t ngx_http_smile_webhook_replay_connect(
    ngx_http_smile_webhook_replay_t *rs, ngx_str_t *socket);
static void ngx_http_smile_webhook_replay_send(ngx_event_t *wev);
static void ngx_http_smile_webhook_replay_recv(ngx_event_t *rev);
static void ngx_http_smile_webhook_replay_done(
    ngx_http_smile_webhook_replay_t *rs, ngx_uint_t status);
static void ngx_http_smile_webhook_replay_stream(
    ngx_http_smile_webhook_replayer_t *rp);
static void ngx_http_smile_webhook_replay_ask(
    ngx_http_smile_webhook_replayer_t *rp,
    ngx_http_smile_webhook_redis_pt handler, int argc, const char **argv,
    const size_t *argvlen);
static void ngx_http_smile_webhook_replay_group(void *data, void *rp_);
static void ngx_http_smile_webhook_replay_pending(
    ngx_http_smile_webhook_replayer_t *rp);
static void ngx_http_smile_webhook_replay_pended(void *data, void *rp_);
static ngx_int_t ngx_http_smile_webhook_replay_claim(
    ngx_http_smile_webhook_replay_t *rs, void *id_, ngx_uint_t attempts,
    ngx_msec_t idle);
static void ngx_http_smile_webhook_replay_read(
    ngx_http_smile_webhook_replayer_t *rp);
static void ngx_http_smile_webhook_replay_got(void *data, void *rp_);
static void ngx_http_smile_webhook_replay_claimed(void *data, void *rp_);
static void ngx_http_smile_webhook_replay_entries(
    ngx_http_smile_webhook_replayer_t *rp, void *list, ngx_uint_t attempts);
static ngx_http_smile_webhook_replay_t *ngx_http_smile_webhook_replay_slot(
    ngx_http_smile_webhook_replayer_t *rp);
static void ngx_http_smile_webhook_replay_entry_start(
    ngx_http_smile_webhook_replay_t *rs, ngx_str_t *id, ngx_str_t *record,
    time_t received, ngx_uint_t attempts);
static void ngx_http_smile_webhook_replay_passed(
    ngx_http_smile_webhook_replayer_t *rp);
static void ngx_http_smile_webhook_replay_touch(ngx_event_t *ev);
static void ngx_http_smile_webhook_replay_acked(
    ngx_http_smile_webhook_replay_t *rs, ngx_uint_t status);
static void ngx_http_smile_webhook_replay_forget(
    ngx_http_smile_webhook_replayer_t *rp, ngx_str_t *entry);
static void ngx_http_smile_webhook_replay_bury(
    ngx_http_smile_webhook_replayer_t *rp, ngx_str_t *entry,
    ngx_str_t *record, time_t received);
static time_t ngx_http_smile_webhook_replay_backoff(
    ngx_http_smile_webhook_spool_t *spool, ngx_uint_t attempts);


/*
 * nginx calls this in the cache manager process; the answer is when to be
 * called again, in milliseconds.
 */

ngx_msec_t
ngx_http_smile_webhook_replay_manager(void *data)
{
    ngx_http_smile_webhook_spool_t *spool = data;

    ngx_http_smile_webhook_replayer_t  *rp;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return NGX_HTTP_SMILE_REPLAY_SCAN;
    }

    rp = ngx_http_smile_webhook_replayer(spool);

    if (rp == NULL) {
        return NGX_HTTP_SMILE_REPLAY_SCAN;
    }

    ngx_http_smile_webhook_replay_scan(rp);
    ngx_http_smile_webhook_replay_next(rp);
    ngx_http_smile_webhook_replay_stream(rp);

    return NGX_HTTP_SMILE_REPLAY_SCAN;
}


/* this process's replayer of the spool, once it holds the lock */

static ngx_http_smile_webhook_replayer_t *
ngx_http_smile_webhook_replayer(ngx_http_smile_webhook_spool_t *spool)
{
    u_char                             *p;
    ngx_fd_t                            fd;
    ngx_http_smile_webhook_replayer_t  *rp;
    u_char                              name[NGX_MAX_PATH];

    rp = spool->replayer;

    if (rp && rp->lock != NGX_INVALID_FILE) {
        return rp;
    }

    p = ngx_snprintf(name, sizeof(name) - 1, "%V/.lock", &spool->path);
    *p = '\0';

    fd = ngx_open_file(name, NGX_FILE_RDWR, NGX_FILE_CREATE_OR_OPEN,
                       NGX_FILE_OWNER_ACCESS);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", name);
        return NULL;
    }

    if (flock(fd, LOCK_EX|LOCK_NB) == -1) {
        /* another replayer (the cache manager before a reload) */
        (void) ngx_close_file(fd);
        return NULL;
    }

    if (rp == NULL) {
        rp = ngx_pcalloc(ngx_cycle->pool,
                         sizeof(ngx_http_smile_webhook_replayer_t));
        if (rp == NULL) {
            (void) ngx_close_file(fd);
            return NULL;
        }

        rp->due = ngx_palloc(ngx_cycle->pool, NGX_HTTP_SMILE_REPLAY_DUE
                                              * NGX_HTTP_SMILE_REPLAY_NAME);
        if (rp->due == NULL) {
            (void) ngx_close_file(fd);
            return NULL;
        }

        rp->spool = spool;
        spool->replayer = rp;
    }

    rp->lock = fd;

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "smile webhook: replaying the spool \"%V\"", &spool->path);

    return rp;
}


/*
 * One pass over the directory: the depth for the status location, the
 * events past "keep" to dead/, records of a crashed write removed, and
 * the list of what is due.
 */

static void
ngx_http_smile_webhook_replay_scan(ngx_http_smile_webhook_replayer_t *rp)
{
    int                                   dir;
    DIR                                  *d;
    time_t                                now, oldest;
    off_t                                 bytes;
    ngx_uint_t                            events;
    struct stat                           st;
    struct dirent                        *de;
    ngx_http_smile_webhook_entry_t        e;
    ngx_http_smile_webhook_spool_t       *spool;
    ngx_http_smile_webhook_spool_stats_t *stats;

    spool = rp->spool;
    stats = &spool->sh->stats;

    d = opendir((char *) spool->path.data);
    if (d == NULL) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "opendir() \"%V\" failed", &spool->path);
        return;
    }

    dir = dirfd(d);
    now = ngx_time();
    oldest = 0;
    bytes = 0;
    events = 0;
    rp->ndue = 0;
    rp->next = 0;

    while ((de = readdir(d)) != NULL) {

        if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
            || !S_ISREG(st.st_mode))
        {
            continue;
        }

        if (ngx_strncmp(de->d_name, "tmp-", 4) == 0) {
            if (st.st_mtime < now - NGX_HTTP_SMILE_REPLAY_TEMP_AGE) {
                (void) unlinkat(dir, de->d_name, 0);
            }

            continue;
        }

        if (ngx_http_smile_webhook_replay_entry((u_char *) de->d_name, &e)
            != NGX_OK)
        {
            continue;
        }

        if (now - e.received >= spool->keep
            && !ngx_http_smile_webhook_replay_busy(rp,
                                                   (u_char *) de->d_name))
        {
            ngx_http_smile_webhook_replay_dead(rp, dir,
                                               (u_char *) de->d_name, &e);
            continue;
        }

        events++;
        bytes += st.st_size;

        if (oldest == 0 || e.received < oldest) {
            oldest = e.received;
        }

        if (rp->ndue < NGX_HTTP_SMILE_REPLAY_DUE
            && now >= st.st_mtime
                      + ngx_http_smile_webhook_replay_backoff(spool,
                                                              e.attempts)
            && ngx_strlen(de->d_name) < NGX_HTTP_SMILE_REPLAY_NAME
            && !ngx_http_smile_webhook_replay_busy(rp, (u_char *) de->d_name))
        {
            ngx_cpystrn(rp->due + rp->ndue * NGX_HTTP_SMILE_REPLAY_NAME,
                        (u_char *) de->d_name, NGX_HTTP_SMILE_REPLAY_NAME);
            rp->ndue++;
        }
    }

    (void) closedir(d);

    stats->events = events;
    stats->bytes = bytes;
    stats->oldest = oldest;
}


/* ev-RECEIVED-ATTEMPTS-ID */

static ngx_int_t
ngx_http_smile_webhook_replay_entry(u_char *name,
    ngx_http_smile_webhook_entry_t *e)
{
    u_char  *p;

    if (ngx_strncmp(name, "ev-", 3) != 0) {
        return NGX_DECLINED;
    }

    p = name + 3;

    for (e->received = 0; *p >= '0' && *p <= '9'; p++) {
        e->received = e->received * 10 + (*p - '0');
    }

    if (*p++ != '-') {
        return NGX_DECLINED;
    }

    for (e->attempts = 0; *p >= '0' && *p <= '9'; p++) {
        e->attempts = e->attempts * 10 + (*p - '0');
    }

    if (*p++ != '-' || e->attempts == 0
        || !smile_is_id(p, ngx_strlen(p)))
    {
        return NGX_DECLINED;
    }

    e->id = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_replay_busy(ngx_http_smile_webhook_replayer_t *rp,
    u_char *name)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_SMILE_REPLAY_SLOTS; i++) {
        if (rp->slots[i].busy
            && ngx_strcmp(rp->slots[i].name, name) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* an event past "keep": to PATH/dead/, logged once, never deleted */

static void
ngx_http_smile_webhook_replay_dead(ngx_http_smile_webhook_replayer_t *rp,
    int dir, u_char *name, ngx_http_smile_webhook_entry_t *e)
{
    int                              dead;
    ngx_http_smile_webhook_spool_t  *spool;

    spool = rp->spool;

    if (mkdirat(dir, "dead", 0700) == -1 && ngx_errno != NGX_EEXIST) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "mkdir() \"%V/dead\" failed", &spool->path);
        return;
    }

    dead = openat(dir, "dead", O_RDONLY|O_DIRECTORY);

    if (dead == -1
        || renameat(dir, (char *) name, dead, (char *) name) == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "rename() \"%V/%s\" to \"%V/dead/%s\" failed",
                      &spool->path, name, &spool->path, name);

        if (dead != -1) {
            (void) close(dead);
        }

        return;
    }

    (void) fsync(dead);
    (void) close(dead);

    (void) ngx_atomic_fetch_add(&spool->sh->stats.dead, 1);

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "smile webhook: event id \"%s\" was not delivered in "
                  "%T s after %ui attempts; moved to \"%V/dead/%s\"",
                  e->id, spool->keep, e->attempts, &spool->path, name);
}


/* deliveries for the free slots, from the list of what is due */

static void
ngx_http_smile_webhook_replay_next(ngx_http_smile_webhook_replayer_t *rp)
{
    u_char      *name;
    ngx_uint_t   i;

    for (i = 0; i < NGX_HTTP_SMILE_REPLAY_SLOTS; i++) {

        if (rp->slots[i].busy) {
            continue;
        }

        while (rp->next < rp->ndue) {
            name = rp->due + rp->next++ * NGX_HTTP_SMILE_REPLAY_NAME;

            if (ngx_http_smile_webhook_replay_busy(rp, name)) {
                continue;
            }

            rp->slots[i].rp = rp;

            if (ngx_http_smile_webhook_replay_start(&rp->slots[i], name)
                == NGX_OK)
            {
                break;
            }
        }
    }
}


/* the file read whole, the request built, the connection started */

static ngx_int_t
ngx_http_smile_webhook_replay_start(ngx_http_smile_webhook_replay_t *rs,
    u_char *name)
{
    ngx_str_t                        file, socket;
    ngx_http_smile_webhook_entry_t   e;

    if (ngx_http_smile_webhook_replay_entry(name, &e) != NGX_OK) {
        return NGX_ERROR;
    }

    rs->pool = ngx_create_pool(4096, ngx_cycle->log);
    if (rs->pool == NULL) {
        return NGX_ERROR;
    }

    rs->busy = 1;
    rs->nin = 0;
    ngx_str_null(&rs->entry);
    rs->attempts = e.attempts;
    rs->received = e.received;
    ngx_cpystrn(rs->name, name, NGX_HTTP_SMILE_REPLAY_NAME);
    ngx_cpystrn(rs->id, e.id, sizeof(rs->id));

    if (ngx_http_smile_webhook_replay_load(rs, &file) != NGX_OK
        || ngx_http_smile_webhook_replay_request(rs, &file, &socket)
           != NGX_OK)
    {
        /* not readable as a record: left for "keep" and dead/ */
        ngx_destroy_pool(rs->pool);
        rs->busy = 0;
        return NGX_ERROR;
    }

    if (ngx_http_smile_webhook_replay_connect(rs, &socket) != NGX_OK) {
        ngx_http_smile_webhook_replay_done(rs, 0);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_replay_load(ngx_http_smile_webhook_replay_t *rs,
    ngx_str_t *file)
{
    u_char           *p;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_t        f;
    ngx_file_info_t   fi;
    u_char            name[NGX_MAX_PATH];

    p = ngx_snprintf(name, sizeof(name) - 1, "%V/%s",
                     &rs->rp->spool->path, rs->name);
    *p = '\0';

    fd = ngx_open_file(name, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        /* gone meanwhile */
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.fd = fd;
    f.name.data = name;
    f.name.len = p - name;
    f.log = ngx_cycle->log;

    n = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR) {
        rs->size = ngx_file_size(&fi);

        file->data = ngx_pnalloc(rs->pool, (size_t) rs->size);
        if (file->data) {
            n = ngx_read_file(&f, file->data, (size_t) rs->size, 0);
        }
    }

    (void) ngx_close_file(fd);

    if (n != (ssize_t) rs->size) {
        return NGX_ERROR;
    }

    file->len = (size_t) rs->size;

    return NGX_OK;
}


/*
 * The record's lines into a request: the stored URI, Host and headers,
 * X-Smile-Replay, and the body that follows the blank line.
 */

static ngx_int_t
ngx_http_smile_webhook_replay_request(ngx_http_smile_webhook_replay_t *rs,
    ngx_str_t *file, ngx_str_t *socket)
{
    u_char     *p, *last, *eol, *body;
    size_t      len;
    ngx_str_t   uri, host;
    ngx_buf_t  *b;

    last = file->data + file->len;

    body = ngx_http_smile_webhook_replay_fields(file, &uri, &host, socket,
                                                &len);

    if (body == NULL || uri.len == 0 || socket->len == 0) {
        return NGX_ERROR;
    }

    len += sizeof("POST  HTTP/1.1\r\nHost: \r\nConnection: close\r\n"
                  "Content-Length: \r\nX-Smile-Replay:  \r\n\r\n")
           + uri.len + (host.len ? host.len : sizeof("localhost"))
           + NGX_OFF_T_LEN + sizeof(rs->rp->spool->sh->token)
           + NGX_INT_T_LEN + (last - body);

    b = ngx_create_temp_buf(rs->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last, "POST %V HTTP/1.1\r\nHost: ", &uri);

    if (host.len) {
        b->last = ngx_cpymem(b->last, host.data, host.len);

    } else {
        b->last = ngx_cpymem(b->last, "localhost", sizeof("localhost") - 1);
    }

    b->last = ngx_sprintf(b->last, "\r\nConnection: close\r\n"
                          "Content-Length: %O\r\nX-Smile-Replay: %*s %ui\r\n",
                          (off_t) (last - body),
                          sizeof(rs->rp->spool->sh->token),
                          rs->rp->spool->sh->token, rs->attempts + 1);

    for (p = file->data + 14; p < body - 1; p = eol + 1) {
        eol = ngx_strlchr(p, body, '\n');

        if (eol - p > 8 && ngx_strncmp(p, "header: ", 8) == 0) {
            b->last = ngx_cpymem(b->last, p + 8, eol - p - 8);
            *b->last++ = CR;
            *b->last++ = LF;
        }
    }

    *b->last++ = CR;
    *b->last++ = LF;
    b->last = ngx_cpymem(b->last, body, last - body);

    rs->out = b;

    return NGX_OK;
}


/*
 * The record's fields a request needs, and the length of its "header: "
 * lines as request headers; the body's start, or NULL if it is not one.
 */

static u_char *
ngx_http_smile_webhook_replay_fields(ngx_str_t *file, ngx_str_t *uri,
    ngx_str_t *host, ngx_str_t *socket, size_t *headers)
{
    u_char  *p, *last, *eol;
    size_t   len;

    p = file->data;
    last = p + file->len;

    if (file->len < 14 || ngx_strncmp(p, "SMILE-SPOOL 1\n", 14) != 0) {
        return NULL;
    }

    ngx_str_null(uri);
    ngx_str_null(host);
    ngx_str_null(socket);

    *headers = 0;

    for (p += 14; p < last; p = eol + 1) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            return NULL;
        }

        if (eol == p) {
            return eol + 1;
        }

        len = eol - p;

        if (len > 5 && ngx_strncmp(p, "uri: ", 5) == 0) {
            uri->data = p + 5;
            uri->len = len - 5;

        } else if (len > 6 && ngx_strncmp(p, "host: ", 6) == 0) {
            host->data = p + 6;
            host->len = len - 6;

        } else if (len > 8 && ngx_strncmp(p, "socket: ", 8) == 0) {
            socket->data = p + 8;
            socket->len = len - 8;

        } else if (len > 8 && ngx_strncmp(p, "header: ", 8) == 0) {
            *headers += len - 8 + 2;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_smile_webhook_replay_connect(ngx_http_smile_webhook_replay_t *rs,
    ngx_str_t *socket)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    struct sockaddr_un  *sun;

    if (socket->len >= sizeof(sun->sun_path)) {
        return NGX_ERROR;
    }

    sun = ngx_pcalloc(rs->pool, sizeof(struct sockaddr_un));
    if (sun == NULL) {
        return NGX_ERROR;
    }

    sun->sun_family = AF_UNIX;
    ngx_memcpy(sun->sun_path, socket->data, socket->len);

    ngx_memzero(&rs->peer, sizeof(ngx_peer_connection_t));

    rs->peer.sockaddr = (struct sockaddr *) sun;
    rs->peer.socklen = sizeof(struct sockaddr_un);
    rs->peer.name = &rs->rp->spool->socket;
    rs->peer.get = ngx_event_get_peer;
    rs->peer.log = ngx_cycle->log;
    rs->peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&rs->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (rs->peer.connection) {
            ngx_close_connection(rs->peer.connection);
            rs->peer.connection = NULL;
        }

        return NGX_ERROR;
    }

    c = rs->peer.connection;
    c->data = rs;
    c->pool = rs->pool;
    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;

    c->write->handler = ngx_http_smile_webhook_replay_send;
    c->read->handler = ngx_http_smile_webhook_replay_recv;

    ngx_add_timer(c->read, NGX_HTTP_SMILE_REPLAY_TIMEOUT);

    if (rc == NGX_OK) {
        ngx_http_smile_webhook_replay_send(c->write);
    }

    return NGX_OK;
}


static void
ngx_http_smile_webhook_replay_send(ngx_event_t *wev)
{
    ssize_t                           n;
    ngx_buf_t                        *b;
    ngx_connection_t                 *c;
    ngx_http_smile_webhook_replay_t  *rs;

    c = wev->data;
    rs = c->data;
    b = rs->out;

    while (b->pos < b->last) {
        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_smile_webhook_replay_done(rs, 0);
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_smile_webhook_replay_done(rs, 0);
            return;
        }

        b->pos += n;
    }

    wev->handler = ngx_http_smile_webhook_replay_recv;

    if (c->read->ready) {
        ngx_http_smile_webhook_replay_recv(c->read);
    }
}


/* the status line, then the rest read and dropped until the server closes */

static void
ngx_http_smile_webhook_replay_recv(ngx_event_t *rev)
{
    ssize_t                           n;
    ngx_int_t                         status;
    ngx_connection_t                 *c;
    ngx_http_smile_webhook_replay_t  *rs;
    u_char                            buf[4096];

    c = rev->data;
    rs = c->data;

    if (rev->timedout) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, NGX_ETIMEDOUT,
                      "smile webhook: replay of event id \"%s\" timed out",
                      rs->id);
        ngx_http_smile_webhook_replay_done(rs, 0);
        return;
    }

    if (rev != c->read) {
        /* the write event, after the request was sent */
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_smile_webhook_replay_done(rs, 0);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            break;
        }

        if (rs->nin < sizeof(rs->in)) {
            ngx_memcpy(rs->in + rs->nin, buf,
                       ngx_min((size_t) n, sizeof(rs->in) - rs->nin));
            rs->nin += ngx_min((size_t) n, sizeof(rs->in) - rs->nin);
        }
    }

    /* "HTTP/1.1 200" */

    status = 0;

    if (rs->nin >= 12 && ngx_strncmp(rs->in, "HTTP/1.", 7) == 0) {
        status = ngx_atoi(rs->in + 9, 3);

        if (status == NGX_ERROR) {
            status = 0;
        }
    }

    ngx_http_smile_webhook_replay_done(rs, status);
}


/*
 * A 2xx: the file goes.  Anything else (0: no answer at all): one more
 * attempt in the name, a new mtime, and the back-off from there.
 */

static void
ngx_http_smile_webhook_replay_done(ngx_http_smile_webhook_replay_t *rs,
    ngx_uint_t status)
{
    u_char                               *p;
    ngx_http_smile_webhook_spool_t       *spool;
    ngx_http_smile_webhook_spool_stats_t *stats;
    u_char                                from[NGX_MAX_PATH];
    u_char                                to[NGX_MAX_PATH];

    spool = rs->rp->spool;
    stats = &spool->sh->stats;

    if (rs->peer.connection) {
        ngx_close_connection(rs->peer.connection);
        rs->peer.connection = NULL;
    }

    if (rs->entry.len) {
        ngx_http_smile_webhook_replay_acked(rs, status);
        return;
    }

    p = ngx_snprintf(from, sizeof(from) - 1, "%V/%s", &spool->path,
                     rs->name);
    *p = '\0';

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE) {

        if (ngx_delete_file(from) == NGX_FILE_ERROR
            && ngx_errno != NGX_ENOENT)
        {
            /* ENOENT: purged meanwhile (smile-webhook spool purge) */
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          ngx_delete_file_n " \"%s\" failed", from);
        }

        (void) ngx_atomic_fetch_add(&stats->delivered, 1);
        (void) ngx_atomic_fetch_add(&stats->bytes, -rs->size);

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "smile webhook: event id \"%s\" delivered by replay, "
                      "attempt %ui, answer %ui", rs->id, rs->attempts + 1,
                      status);

    } else {
        p = ngx_snprintf(to, sizeof(to) - 1, "%V/ev-%T-%ui-%s", &spool->path,
                         rs->received, rs->attempts + 1, rs->id);
        *p = '\0';

        if (ngx_rename_file(from, to) == NGX_FILE_ERROR) {

            if (ngx_errno == NGX_ENOENT) {
                ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                              "smile webhook: \"%s\" was removed during "
                              "its replay", from);

            } else {
                ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                              ngx_rename_file_n " \"%s\" to \"%s\" failed",
                              from, to);
            }

        } else if (utimes((char *) to, NULL) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "utimes() \"%s\" failed", to);
        }

        (void) ngx_atomic_fetch_add(&stats->retried, 1);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "smile webhook: replay of event id \"%s\" failed, "
                      "attempt %ui, answer %ui; next in %T s", rs->id,
                      rs->attempts + 1, status,
                      ngx_http_smile_webhook_replay_backoff(spool,
                                                        rs->attempts + 1));
    }

    ngx_destroy_pool(rs->pool);
    rs->pool = NULL;
    rs->busy = 0;

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_http_smile_webhook_replay_next(rs->rp);
    }
}


/* retry * 2^(attempts - 1), at most an hour, never less than retry */

static time_t
ngx_http_smile_webhook_replay_backoff(ngx_http_smile_webhook_spool_t *spool,
    ngx_uint_t attempts)
{
    time_t  t;

    t = spool->retry;

    while (--attempts && t < NGX_HTTP_SMILE_REPLAY_BACKOFF) {
        t *= 2;
    }

    return ngx_max(ngx_min(t, NGX_HTTP_SMILE_REPLAY_BACKOFF), spool->retry);
}


/*
 * With smile_webhook_redis: the stream every node spools to, read through
 * the consumer group "smile", one consumer per node and spool (HOST:PATH).
 * Each pass: new entries (XREADGROUP), and pending ones whose back-off
 * is over, whoever they were given to — a node that died leaves its
 * entries pending, and another takes them (XPENDING, XCLAIM).  A delivered
 * entry is acknowledged and deleted; a failed one stays pending; one older
 * than keep is written to the local dead/ and deleted.  One command at a
 * time; the replies drive the rest.
 */

static void
ngx_http_smile_webhook_replay_stream(ngx_http_smile_webhook_replayer_t *rp)
{
    ngx_http_smile_webhook_redis_conf_t  *rcf;
    const char                           *argv[6];
    size_t                                argvlen[6];

    rcf = ngx_http_smile_webhook_redis_conf();

    if (rcf == NULL || !ngx_http_smile_webhook_redis_up()) {
        return;
    }

    if (rp->asking) {
        /* after the command that is out */
        rp->again = 1;
        return;
    }

    rp->again = 0;

    if (rp->stream.len == 0) {
        if (ngx_http_smile_webhook_spool_stream_key(ngx_cycle->pool, rcf,
                                                    rp->spool, &rp->stream)
            != NGX_OK)
        {
            return;
        }

        rp->consumer.len = ngx_cycle->hostname.len + 1 + rp->spool->path.len;
        rp->consumer.data = ngx_pnalloc(ngx_cycle->pool, rp->consumer.len);
        if (rp->consumer.data == NULL) {
            rp->stream.len = 0;
            return;
        }

        ngx_sprintf(rp->consumer.data, "%V:%V", &ngx_cycle->hostname,
                    &rp->spool->path);
    }

    if (!rp->group) {
        argv[0] = "XGROUP";
        argvlen[0] = 6;
        argv[1] = "CREATE";
        argvlen[1] = 6;
        argv[2] = (const char *) rp->stream.data;
        argvlen[2] = rp->stream.len;
        argv[3] = "smile";
        argvlen[3] = 5;
        argv[4] = "0";
        argvlen[4] = 1;
        argv[5] = "MKSTREAM";
        argvlen[5] = 8;

        ngx_http_smile_webhook_replay_ask(rp,
                                          ngx_http_smile_webhook_replay_group,
                                          6, argv, argvlen);
        return;
    }

    ngx_http_smile_webhook_replay_pending(rp);
}


static void
ngx_http_smile_webhook_replay_ask(ngx_http_smile_webhook_replayer_t *rp,
    ngx_http_smile_webhook_redis_pt handler, int argc, const char **argv,
    const size_t *argvlen)
{
    rp->asking = 1;

    if (ngx_http_smile_webhook_redis_command(handler, rp, argc, argv, argvlen,
                                             NULL)
        != NGX_OK)
    {
        rp->asking = 0;
    }
}


static void
ngx_http_smile_webhook_replay_group(void *data, void *rp_)
{
    ngx_http_smile_webhook_replayer_t *rp = data;

    redisReply  *reply = rp_;

    rp->asking = 0;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_strstr(reply->str, "BUSYGROUP") == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "smile webhook: redis XGROUP CREATE failed: %s",
                      reply->str);
        return;
    }

    rp->group = 1;

    ngx_http_smile_webhook_replay_pending(rp);
}


/* the pending entries idle for at least "retry" */

static void
ngx_http_smile_webhook_replay_pending(ngx_http_smile_webhook_replayer_t *rp)
{
    u_char       *p;
    const char   *argv[8];
    size_t        argvlen[8];
    u_char        idle[NGX_INT_T_LEN];

    p = ngx_sprintf(idle, "%T", rp->spool->retry * 1000);

    argv[0] = "XPENDING";
    argvlen[0] = 8;
    argv[1] = (const char *) rp->stream.data;
    argvlen[1] = rp->stream.len;
    argv[2] = "smile";
    argvlen[2] = 5;
    argv[3] = "IDLE";
    argvlen[3] = 4;
    argv[4] = (const char *) idle;
    argvlen[4] = p - idle;
    argv[5] = "-";
    argvlen[5] = 1;
    argv[6] = "+";
    argvlen[6] = 1;
    argv[7] = "16";
    argvlen[7] = 2;

    ngx_http_smile_webhook_replay_ask(rp,
                                      ngx_http_smile_webhook_replay_pended,
                                      8, argv, argvlen);
}


/*
 * [[id, consumer, idle ms, deliveries], ...]: those whose back-off is over
 * are claimed, one XCLAIM each; then the new entries are read.
 */

static void
ngx_http_smile_webhook_replay_pended(void *data, void *rp_)
{
    ngx_http_smile_webhook_replayer_t *rp = data;

    redisReply                       *reply = rp_, *e;
    ngx_msec_t                        idle;
    ngx_uint_t                        i, attempts;
    ngx_http_smile_webhook_replay_t  *rs;
    u_char                            name[NGX_HTTP_SMILE_REPLAY_NAME];

    rp->asking = 0;

    if (reply && reply->type == REDIS_REPLY_ERROR
        && ngx_strstr(reply->str, "NOGROUP"))
    {
        /* Redis lost the stream (restarted without persistence) */
        rp->group = 0;
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_smile_webhook_replay_passed(rp);
        return;
    }

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4
            || e->element[0]->type != REDIS_REPLY_STRING
            || e->element[2]->type != REDIS_REPLY_INTEGER
            || e->element[3]->type != REDIS_REPLY_INTEGER)
        {
            continue;
        }

        /* being delivered by this replayer (the app is slow) */

        if (e->element[0]->len < NGX_HTTP_SMILE_REPLAY_NAME - 7) {
            ngx_sprintf(name, "redis:%*s%Z", e->element[0]->len,
                        e->element[0]->str);

            if (ngx_http_smile_webhook_replay_busy(rp, name)) {
                continue;
            }
        }

        /* deliveries so far: the first one, and each replay */

        attempts = (ngx_uint_t) e->element[3]->integer + 1;
        idle = (ngx_msec_t)
                   ngx_http_smile_webhook_replay_backoff(rp->spool, attempts)
               * 1000;

        if (e->element[2]->integer < (long long) idle) {
            continue;
        }

        rs = ngx_http_smile_webhook_replay_slot(rp);

        if (rs == NULL) {
            break;
        }

        if (ngx_http_smile_webhook_replay_claim(rs, e->element[0], attempts,
                                                idle)
            != NGX_OK)
        {
            break;
        }
    }

    ngx_http_smile_webhook_replay_read(rp);

    if (!rp->asking) {
        ngx_http_smile_webhook_replay_passed(rp);
    }
}


/*
 * XCLAIM of one pending entry; the slot is held until the entry comes.
 * The claim asks for the idle time the entry was chosen for: a replayer of
 * another node that saw it in the same XPENDING and claimed it first has
 * reset it, so this claim gets nothing and the event is delivered once.
 */

static ngx_int_t
ngx_http_smile_webhook_replay_claim(ngx_http_smile_webhook_replay_t *rs,
    void *id_, ngx_uint_t attempts, ngx_msec_t idle)
{
    redisReply  *id = id_;

    ngx_http_smile_webhook_replayer_t  *rp;
    const char                         *argv[6];
    size_t                              argvlen[6];
    u_char                              min[NGX_INT_T_LEN];

    rp = rs->rp;

    rs->busy = 1;
    rs->attempts = attempts;
    rs->pool = NULL;
    ngx_str_null(&rs->entry);
    ngx_sprintf(rs->name, "redis:%*s%Z", id->len, id->str);

    argv[0] = "XCLAIM";
    argvlen[0] = 6;
    argv[1] = (const char *) rp->stream.data;
    argvlen[1] = rp->stream.len;
    argv[2] = "smile";
    argvlen[2] = 5;
    argv[3] = (const char *) rp->consumer.data;
    argvlen[3] = rp->consumer.len;
    argv[4] = (const char *) min;
    argvlen[4] = ngx_sprintf(min, "%M", idle) - min;
    argv[5] = id->str;
    argvlen[5] = id->len;

    if (ngx_http_smile_webhook_redis_command(
            ngx_http_smile_webhook_replay_claimed, rs, 6, argv, argvlen, NULL)
        != NGX_OK)
    {
        rs->busy = 0;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* as many new entries as there are free slots */

static void
ngx_http_smile_webhook_replay_read(ngx_http_smile_webhook_replayer_t *rp)
{
    ngx_uint_t   i, n;
    const char  *argv[9];
    size_t       argvlen[9];
    u_char       count[NGX_INT_T_LEN];

    n = 0;

    for (i = 0; i < NGX_HTTP_SMILE_REPLAY_SLOTS; i++) {
        n += !rp->slots[i].busy;
    }

    if (n == 0) {
        return;
    }

    argv[0] = "XREADGROUP";
    argvlen[0] = 10;
    argv[1] = "GROUP";
    argvlen[1] = 5;
    argv[2] = "smile";
    argvlen[2] = 5;
    argv[3] = (const char *) rp->consumer.data;
    argvlen[3] = rp->consumer.len;
    argv[4] = "COUNT";
    argvlen[4] = 5;
    argv[5] = (const char *) count;
    argvlen[5] = ngx_sprintf(count, "%ui", n) - count;
    argv[6] = "STREAMS";
    argvlen[6] = 7;
    argv[7] = (const char *) rp->stream.data;
    argvlen[7] = rp->stream.len;
    argv[8] = ">";
    argvlen[8] = 1;

    ngx_http_smile_webhook_replay_ask(rp, ngx_http_smile_webhook_replay_got,
                                      9, argv, argvlen);
}


/* XREADGROUP: [[stream, [[id, [field, record]], ...]]] */

static void
ngx_http_smile_webhook_replay_got(void *data, void *rp_)
{
    ngx_http_smile_webhook_replayer_t *rp = data;

    redisReply  *reply = rp_;

    rp->asking = 0;

    if (reply && reply->type == REDIS_REPLY_ARRAY
        && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_ARRAY
        && reply->element[0]->elements >= 2)
    {
        ngx_http_smile_webhook_replay_entries(rp,
                                              reply->element[0]->element[1],
                                              1);
    }

    ngx_http_smile_webhook_replay_passed(rp);
}


/* the end of a pass over the stream: another one if a slot came free */

static void
ngx_http_smile_webhook_replay_passed(ngx_http_smile_webhook_replayer_t *rp)
{
    if (rp->again && !ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_http_smile_webhook_replay_stream(rp);
    }
}


/* XCLAIM: [[id, [field, record]]], for the slot held for it */

static void
ngx_http_smile_webhook_replay_claimed(void *data, void *rp_)
{
    ngx_http_smile_webhook_replay_t *rs = data;

    redisReply  *reply = rp_;

    rs->busy = 0;

    if (reply == NULL) {
        return;
    }

    ngx_http_smile_webhook_replay_entries(rs->rp, reply, rs->attempts);
}


/*
 * Entries to deliver, made "attempts" deliveries so far (1 for a new one:
 * the delivery that failed), or, past "keep", to dead/.
 */

static void
ngx_http_smile_webhook_replay_entries(ngx_http_smile_webhook_replayer_t *rp,
    void *list, ngx_uint_t attempts)
{
    redisReply                       *entries = list, *e, *f;
    time_t                            received;
    ngx_str_t                         id, record;
    ngx_uint_t                        i;
    ngx_http_smile_webhook_replay_t  *rs;

    if (entries->type != REDIS_REPLY_ARRAY) {
        return;
    }

    for (i = 0; i < entries->elements; i++) {
        e = entries->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2
            || e->element[0]->type != REDIS_REPLY_STRING
            || e->element[1]->type != REDIS_REPLY_ARRAY
            || e->element[1]->elements < 2)
        {
            continue;
        }

        f = e->element[1]->element[1];

        if (f->type != REDIS_REPLY_STRING) {
            continue;
        }

        id.data = (u_char *) e->element[0]->str;
        id.len = e->element[0]->len;
        record.data = (u_char *) f->str;
        record.len = f->len;

        /* the entry's id starts with its time in milliseconds */

        received = (time_t) (ngx_atotm(id.data,
                                       ngx_strlchr(id.data, id.data + id.len,
                                                   '-')
                                       ? (size_t) (ngx_strlchr(id.data,
                                                        id.data + id.len, '-')
                                                   - id.data)
                                       : id.len) / 1000);

        if (ngx_time() - received >= rp->spool->keep) {
            ngx_http_smile_webhook_replay_bury(rp, &id, &record, received);
            continue;
        }

        rs = ngx_http_smile_webhook_replay_slot(rp);

        if (rs == NULL) {
            /* left pending; claimed again after its back-off */
            continue;
        }

        ngx_http_smile_webhook_replay_entry_start(rs, &id, &record,
                                                  received, attempts);
    }
}


static ngx_http_smile_webhook_replay_t *
ngx_http_smile_webhook_replay_slot(ngx_http_smile_webhook_replayer_t *rp)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_SMILE_REPLAY_SLOTS; i++) {
        if (!rp->slots[i].busy) {
            rp->slots[i].rp = rp;
            return &rp->slots[i];
        }
    }

    return NULL;
}


/* a stream entry's delivery, through this node's replay socket */

static void
ngx_http_smile_webhook_replay_entry_start(ngx_http_smile_webhook_replay_t *rs,
    ngx_str_t *id, ngx_str_t *record, time_t received, ngx_uint_t attempts)
{
    u_char     *p, *last;
    ngx_str_t   file, socket;

    rs->pool = ngx_create_pool(4096, ngx_cycle->log);
    if (rs->pool == NULL) {
        return;
    }

    rs->busy = 1;
    rs->nin = 0;
    rs->attempts = attempts;
    rs->received = received;
    rs->size = record->len;

    rs->entry.data = ngx_pstrdup(rs->pool, id);
    file.data = ngx_pstrdup(rs->pool, record);

    if (rs->entry.data == NULL || file.data == NULL) {
        ngx_destroy_pool(rs->pool);
        rs->busy = 0;
        return;
    }

    rs->entry.len = id->len;
    file.len = record->len;

    ngx_snprintf(rs->name, NGX_HTTP_SMILE_REPLAY_NAME - 1, "redis:%V%Z", id);

    /* the event id, for the log lines */

    rs->id[0] = '\0';
    last = file.data + file.len;
    p = ngx_strnstr(file.data, "\nid: ", file.len);

    if (p) {
        p += 5;
        last = ngx_strlchr(p, last, '\n');

        if (last && (size_t) (last - p) < sizeof(rs->id)) {
            ngx_memcpy(rs->id, p, last - p);
            rs->id[last - p] = '\0';
        }
    }

    if (ngx_http_smile_webhook_replay_request(rs, &file, &socket) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "smile webhook: redis entry %V is not a record",
                      &rs->entry);
        ngx_destroy_pool(rs->pool);
        rs->busy = 0;
        return;
    }

    /*
     * While the app takes its time, the entry's idle time is reset every
     * half "retry", so that no replayer, on this node or another, takes
     * it for one left behind; a node that dies stops doing it.
     */

    rs->touch.handler = ngx_http_smile_webhook_replay_touch;
    rs->touch.data = rs;
    rs->touch.log = ngx_cycle->log;
    rs->touch.cancelable = 1;

    ngx_add_timer(&rs->touch, (ngx_msec_t) rs->rp->spool->retry * 500);

    /* whichever node spooled it, this node's listener takes it */

    if (ngx_http_smile_webhook_replay_connect(rs, &rs->rp->spool->socket)
        != NGX_OK)
    {
        ngx_http_smile_webhook_replay_done(rs, 0);
    }
}


/* XCLAIM ... JUSTID: idle time 0, the delivery count unchanged */

static void
ngx_http_smile_webhook_replay_touch(ngx_event_t *ev)
{
    ngx_http_smile_webhook_replay_t *rs = ev->data;

    ngx_http_smile_webhook_replayer_t  *rp;
    const char                         *argv[7];
    size_t                              argvlen[7];

    rp = rs->rp;

    argv[0] = "XCLAIM";
    argvlen[0] = 6;
    argv[1] = (const char *) rp->stream.data;
    argvlen[1] = rp->stream.len;
    argv[2] = "smile";
    argvlen[2] = 5;
    argv[3] = (const char *) rp->consumer.data;
    argvlen[3] = rp->consumer.len;
    argv[4] = "0";
    argvlen[4] = 1;
    argv[5] = (const char *) rs->entry.data;
    argvlen[5] = rs->entry.len;
    argv[6] = "JUSTID";
    argvlen[6] = 6;

    (void) ngx_http_smile_webhook_redis_command(NULL, NULL, 7, argv, argvlen,
                                                NULL);

    ngx_add_timer(&rs->touch, (ngx_msec_t) rp->spool->retry * 500);
}


/* a delivered entry is acknowledged and deleted; a failed one stays */

static void
ngx_http_smile_webhook_replay_acked(ngx_http_smile_webhook_replay_t *rs,
    ngx_uint_t status)
{
    ngx_http_smile_webhook_replayer_t     *rp;
    ngx_http_smile_webhook_spool_stats_t  *stats;

    rp = rs->rp;
    stats = &rp->spool->sh->stats;

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_smile_webhook_replay_forget(rp, &rs->entry);

        (void) ngx_atomic_fetch_add(&stats->delivered, 1);

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "smile webhook: event id \"%s\" delivered by replay "
                      "from redis, attempt %ui, answer %ui", rs->id,
                      rs->attempts + 1, status);

    } else {
        (void) ngx_atomic_fetch_add(&stats->retried, 1);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "smile webhook: replay of event id \"%s\" from redis "
                      "failed, attempt %ui, answer %ui; next in %T s",
                      rs->id, rs->attempts + 1, status,
                      ngx_http_smile_webhook_replay_backoff(rp->spool,
                                                        rs->attempts + 1));
    }

    if (rs->touch.timer_set) {
        ngx_del_timer(&rs->touch);
    }

    ngx_destroy_pool(rs->pool);
    rs->pool = NULL;
    rs->busy = 0;

    /* the slot is free: what is waiting in the stream, now */

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_http_smile_webhook_replay_stream(rp);
    }
}


/* XACK and XDEL: the entry is done with; not waited for */

static void
ngx_http_smile_webhook_replay_forget(ngx_http_smile_webhook_replayer_t *rp,
    ngx_str_t *entry)
{
    const char  *argv[4];
    size_t       argvlen[4];

    argv[0] = "XACK";
    argvlen[0] = 4;
    argv[1] = (const char *) rp->stream.data;
    argvlen[1] = rp->stream.len;
    argv[2] = "smile";
    argvlen[2] = 5;
    argv[3] = (const char *) entry->data;
    argvlen[3] = entry->len;

    (void) ngx_http_smile_webhook_redis_command(NULL, NULL, 4, argv, argvlen,
                                                NULL);

    argv[0] = "XDEL";
    argv[2] = (const char *) entry->data;
    argvlen[2] = entry->len;

    (void) ngx_http_smile_webhook_redis_command(NULL, NULL, 3, argv, argvlen,
                                                NULL);
}


/* an entry past "keep": written to the local dead/, then forgotten */

static void
ngx_http_smile_webhook_replay_bury(ngx_http_smile_webhook_replayer_t *rp,
    ngx_str_t *entry, ngx_str_t *record, time_t received)
{
    u_char                          *p;
    ngx_fd_t                         fd;
    ngx_http_smile_webhook_spool_t  *spool;
    u_char                           name[NGX_MAX_PATH];

    spool = rp->spool;

    p = ngx_snprintf(name, sizeof(name) - 1, "%V/dead", &spool->path);
    *p = '\0';

    if (ngx_create_dir(name, 0700) == NGX_FILE_ERROR
        && ngx_errno != NGX_EEXIST)
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      ngx_create_dir_n " \"%s\" failed", name);
        return;
    }

    p = ngx_snprintf(name, sizeof(name) - 1, "%V/dead/ev-%T-0-redis-%V",
                     &spool->path, received, entry);
    *p = '\0';

    fd = ngx_open_file(name, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_OWNER_ACCESS);

    if (fd == NGX_INVALID_FILE
        || ngx_write_fd(fd, record->data, record->len)
           != (ssize_t) record->len
        || fsync(fd) == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "writing \"%s\" failed", name);

        if (fd != NGX_INVALID_FILE) {
            (void) ngx_close_file(fd);
        }

        return;
    }

    (void) ngx_close_file(fd);

    ngx_http_smile_webhook_replay_forget(rp, entry);

    (void) ngx_atomic_fetch_add(&spool->sh->stats.dead, 1);

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "smile webhook: redis entry %V was not delivered in %T s; "
                  "moved to \"%s\"", entry, spool->keep, name);
}
