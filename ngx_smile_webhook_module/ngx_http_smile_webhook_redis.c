
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The Redis client that shares dedupe state and the spool between nodes.
 *
 * One connection per process (each worker, and the cache manager process
 * where the replayer runs), on nginx's own event loop: connected with
 * ngx_event_connect_peer, never blocking.  Commands are built with
 * hiredis's formatter (redisFormatCommandArgv) and replies parsed with its
 * reader (redisReader): no protocol code of our own.  We do not use
 * hiredis's async API with an nginx adapter: the adapter owns the socket
 * and reconnects behind the event loop's back, where this way nginx owns
 * the connection, its timers and its lifetime, and a failed connection is
 * simply closed and opened again later.
 *
 * Commands are pipelined: written as they come, their callbacks queued in
 * order, each reply given to the oldest.  Any error, and a reply that is
 * later than "timeout", fails every pending command (the callbacks get no
 * reply and fall back to this node alone), closes the connection and
 * connects again after a back-off of 100 ms doubling to 10 s.  While not
 * connected a command is refused at once: Redis is never waited for.
 *
 * On connection: AUTH (with the password read from password_file at
 * configuration time) and SELECT, then the connection is up.
 */


#include "ngx_http_smile_webhook_module.h"

#include <hiredis/hiredis.h>


#define NGX_HTTP_SMILE_REDIS_DOWN        0
#define NGX_HTTP_SMILE_REDIS_CONNECTING  1
#define NGX_HTTP_SMILE_REDIS_UP          2

#define NGX_HTTP_SMILE_REDIS_BACKOFF     100
#define NGX_HTTP_SMILE_REDIS_BACKOFF_MAX 10000
#define NGX_HTTP_SMILE_REDIS_TIMEOUT     200
#define NGX_HTTP_SMILE_REDIS_BUF         16384


struct ngx_http_smile_webhook_redis_cmd_s {
    ngx_http_smile_webhook_redis_cmd_t  *next;
    ngx_http_smile_webhook_redis_pt      handler;   /* NULL: cancelled */
    void                                *data;
    ngx_msec_t                           sent;
};


/* this process's connection */
typedef struct {
    ngx_http_smile_webhook_redis_conf_t  *conf;
    ngx_peer_connection_t                 peer;
    redisReader                          *reader;
    ngx_pool_t                           *pool;     /* commands, buffers */
    ngx_chain_t                          *out;      /* to be written */
    ngx_chain_t                          *free;
    ngx_http_smile_webhook_redis_cmd_t   *head;     /* waiting replies */
    ngx_http_smile_webhook_redis_cmd_t   *tail;
    ngx_http_smile_webhook_redis_cmd_t   *spare;    /* for reuse */
    ngx_event_t                           retry;    /* connect again */
    ngx_msec_t                            backoff;
    ngx_uint_t                            state;
    ngx_uint_t                            handshake; /* replies to wait */
} ngx_http_smile_webhook_redis_t;


static ngx_int_t ngx_http_smile_webhook_redis_parse(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_smile_webhook_redis_conf_t *rcf);
static void ngx_http_smile_webhook_redis_connect(ngx_event_t *ev);
static ngx_int_t ngx_http_smile_webhook_redis_handshake(void);
static void ngx_http_smile_webhook_redis_handshaken(void *data, void *reply);
static ngx_int_t ngx_http_smile_webhook_redis_queue(
    ngx_http_smile_webhook_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen,
    ngx_http_smile_webhook_redis_cmd_t **cmd);
static void ngx_http_smile_webhook_redis_write(ngx_event_t *wev);
static void ngx_http_smile_webhook_redis_read(ngx_event_t *rev);
static void ngx_http_smile_webhook_redis_fail(const char *why, ngx_err_t err);


static ngx_http_smile_webhook_redis_t  ngx_http_smile_webhook_redis_conn;


/*
 * smile_webhook_redis ADDRESS [db=N] [password_file=PATH] [prefix=STRING]
 *     [timeout=TIME]
 */

char *
ngx_http_smile_webhook_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smile_webhook_main_conf_t *swmcf = conf;

    ngx_url_t                             u;
    ngx_str_t                            *value;
    ngx_http_smile_webhook_redis_conf_t  *rcf;

    if (swmcf->redis) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_smile_webhook_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in \"%V\" of the \"%V\" directive",
                           u.err ? u.err : "host not found", &u.url,
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    rcf->addr = u.addrs[0];
    rcf->timeout = NGX_HTTP_SMILE_REDIS_TIMEOUT;
    ngx_str_set(&rcf->prefix, "smile:");

    if (ngx_http_smile_webhook_redis_parse(cf, cmd, rcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    swmcf->redis = rcf;

    return NGX_CONF_OK;
}


/* db=N password_file=PATH prefix=STRING timeout=TIME */

static ngx_int_t
ngx_http_smile_webhook_redis_parse(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_smile_webhook_redis_conf_t *rcf)
{
    u_char      *p;
    ngx_str_t   *value, s, text;
    ngx_int_t    n;
    ngx_uint_t   i;
    ngx_msec_t   t;

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            n = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (n == NGX_ERROR || n > 65535) {
                goto invalid;
            }

            rcf->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            t = ngx_parse_time(&s, 0);

            if (t == (ngx_msec_t) NGX_ERROR || t == 0) {
                goto invalid;
            }

            rcf->timeout = t;
            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            rcf->prefix.data = value[i].data + 7;
            rcf->prefix.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            s.data = value[i].data + 14;
            s.len = value[i].len - 14;

            if (s.len == 0 || ngx_conf_full_name(cf->cycle, &s, 1) != NGX_OK)
            {
                goto invalid;
            }

            if (ngx_http_smile_webhook_read_file(cf, &cmd->name, &s, &text)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            /* the first line, without its end */

            p = ngx_strlchr(text.data, text.data + text.len, LF);
            rcf->password.len = (p ? p : text.data + text.len) - text.data;

            if (rcf->password.len && text.data[rcf->password.len - 1] == CR) {
                rcf->password.len--;
            }

            if (rcf->password.len == 0) {
                ngx_explicit_memzero(text.data, text.len);
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "file \"%V\" of the \"%V\" directive "
                                   "holds no password", &s, &cmd->name);
                return NGX_ERROR;
            }

            rcf->password.data = ngx_pnalloc(cf->pool, rcf->password.len);
            if (rcf->password.data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(rcf->password.data, text.data, rcf->password.len);
            ngx_explicit_memzero(text.data, text.len);
            continue;
        }

        goto invalid;
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);

    return NGX_ERROR;
}


/* in every process that serves or replays: the first connection */

ngx_int_t
ngx_http_smile_webhook_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_smile_webhook_redis_conf_t *rcf)
{
    ngx_http_smile_webhook_redis_t  *rc;

    rc = &ngx_http_smile_webhook_redis_conn;

    ngx_memzero(rc, sizeof(ngx_http_smile_webhook_redis_t));

    rc->conf = rcf;
    rc->backoff = NGX_HTTP_SMILE_REDIS_BACKOFF;

    rc->pool = ngx_create_pool(4096, cycle->log);
    if (rc->pool == NULL) {
        return NGX_ERROR;
    }

    rc->retry.handler = ngx_http_smile_webhook_redis_connect;
    rc->retry.log = cycle->log;
    rc->retry.data = rc;
    rc->retry.cancelable = 1;

    ngx_http_smile_webhook_redis_connect(&rc->retry);

    return NGX_OK;
}


void
ngx_http_smile_webhook_redis_exit_process(void)
{
    ngx_http_smile_webhook_redis_t  *rc;

    rc = &ngx_http_smile_webhook_redis_conn;

    if (rc->conf == NULL) {
        return;
    }

    if (rc->peer.connection) {
        ngx_close_connection(rc->peer.connection);
        rc->peer.connection = NULL;
    }

    if (rc->reader) {
        redisReaderFree(rc->reader);
        rc->reader = NULL;
    }

    if (rc->pool) {
        ngx_destroy_pool(rc->pool);
        rc->pool = NULL;
    }

    rc->conf = NULL;
}


/* the connection is up: commands are taken */

ngx_int_t
ngx_http_smile_webhook_redis_up(void)
{
    return ngx_http_smile_webhook_redis_conn.state
           == NGX_HTTP_SMILE_REDIS_UP;
}


ngx_http_smile_webhook_redis_conf_t *
ngx_http_smile_webhook_redis_conf(void)
{
    return ngx_http_smile_webhook_redis_conn.conf;
}


static void
ngx_http_smile_webhook_redis_connect(ngx_event_t *ev)
{
    ngx_int_t                        rc;
    ngx_connection_t                *c;
    ngx_http_smile_webhook_redis_t  *r;

    r = &ngx_http_smile_webhook_redis_conn;

    if (ngx_exiting || ngx_terminate || ngx_quit || r->conf == NULL) {
        return;
    }

    ngx_memzero(&r->peer, sizeof(ngx_peer_connection_t));

    r->peer.sockaddr = r->conf->addr.sockaddr;
    r->peer.socklen = r->conf->addr.socklen;
    r->peer.name = &r->conf->addr.name;
    r->peer.get = ngx_event_get_peer;
    r->peer.log = ngx_cycle->log;
    r->peer.log_error = NGX_ERROR_INFO;

    rc = ngx_event_connect_peer(&r->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_smile_webhook_redis_fail("connect() failed", ngx_errno);
        return;
    }

    c = r->peer.connection;
    c->data = r;
    c->log = ngx_cycle->log;
    c->read->log = c->log;
    c->write->log = c->log;
    c->read->handler = ngx_http_smile_webhook_redis_read;
    c->write->handler = ngx_http_smile_webhook_redis_write;

    r->reader = redisReaderCreate();
    if (r->reader == NULL) {
        ngx_http_smile_webhook_redis_fail("redisReaderCreate() failed", 0);
        return;
    }

    r->state = NGX_HTTP_SMILE_REDIS_CONNECTING;

    if (ngx_http_smile_webhook_redis_handshake() != NGX_OK) {
        ngx_http_smile_webhook_redis_fail("the handshake failed", 0);
        return;
    }

    /* the handshake's replies are due in time, as any other */

    ngx_add_timer(c->read, r->conf->timeout);

    if (rc == NGX_OK) {
        ngx_http_smile_webhook_redis_write(c->write);
    }
}


/* AUTH and SELECT, or a PING when neither is needed */

static ngx_int_t
ngx_http_smile_webhook_redis_handshake(void)
{
    u_char                               db[NGX_INT_T_LEN];
    const char                          *argv[2];
    size_t                               argvlen[2];
    ngx_http_smile_webhook_redis_t      *r;
    ngx_http_smile_webhook_redis_conf_t *rcf;

    r = &ngx_http_smile_webhook_redis_conn;
    rcf = r->conf;
    r->handshake = 0;

    if (rcf->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = 4;
        argv[1] = (const char *) rcf->password.data;
        argvlen[1] = rcf->password.len;

        if (ngx_http_smile_webhook_redis_queue(
                ngx_http_smile_webhook_redis_handshaken, r, 2, argv, argvlen,
                NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        r->handshake++;
    }

    if (rcf->db || r->handshake == 0) {
        argv[0] = rcf->db ? "SELECT" : "PING";
        argvlen[0] = rcf->db ? 6 : 4;
        argv[1] = (const char *) db;
        argvlen[1] = ngx_sprintf(db, "%ui", rcf->db) - db;

        if (ngx_http_smile_webhook_redis_queue(
                ngx_http_smile_webhook_redis_handshaken, r,
                rcf->db ? 2 : 1, argv, argvlen, NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        r->handshake++;
    }

    return NGX_OK;
}


static void
ngx_http_smile_webhook_redis_handshaken(void *data, void *rp)
{
    ngx_http_smile_webhook_redis_t  *r = data;

    redisReply  *reply = rp;

    if (reply == NULL) {
        /* the connection failed: that is being dealt with */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_smile_webhook_redis_fail(reply->str, 0);
        return;
    }

    if (--r->handshake) {
        return;
    }

    r->state = NGX_HTTP_SMILE_REDIS_UP;
    r->backoff = NGX_HTTP_SMILE_REDIS_BACKOFF;

    ngx_http_smile_webhook_redis_state(1, &r->conf->addr.name, NULL);
}


/*
 * A command, its arguments given whole; its handler gets the reply, or
 * NULL when the connection failed or the reply was late.  NGX_DECLINED
 * when not connected: the caller goes on without Redis at once.
 */

ngx_int_t
ngx_http_smile_webhook_redis_command(ngx_http_smile_webhook_redis_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen,
    ngx_http_smile_webhook_redis_cmd_t **cmd)
{
    ngx_http_smile_webhook_redis_t  *r;

    r = &ngx_http_smile_webhook_redis_conn;

    if (r->state != NGX_HTTP_SMILE_REDIS_UP) {
        return NGX_DECLINED;
    }

    if (ngx_http_smile_webhook_redis_queue(handler, data, argc, argv,
                                           argvlen, cmd)
        != NGX_OK)
    {
        ngx_http_smile_webhook_redis_fail("a command failed", 0);
        return NGX_DECLINED;
    }

    ngx_http_smile_webhook_redis_write(r->peer.connection->write);

    return NGX_OK;
}


/* a waiting request went away: its reply is dropped when it comes */

void
ngx_http_smile_webhook_redis_cancel(ngx_http_smile_webhook_redis_cmd_t *cmd)
{
    cmd->handler = NULL;
}


static ngx_int_t
ngx_http_smile_webhook_redis_queue(ngx_http_smile_webhook_redis_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen,
    ngx_http_smile_webhook_redis_cmd_t **out)
{
    int                                  n;
    char                                *s;
    ngx_buf_t                           *b;
    ngx_chain_t                         *cl, **ll;
    ngx_http_smile_webhook_redis_t      *r;
    ngx_http_smile_webhook_redis_cmd_t  *cmd;

    r = &ngx_http_smile_webhook_redis_conn;

    n = redisFormatCommandArgv(&s, argc, argv, argvlen);
    if (n < 0) {
        return NGX_ERROR;
    }

    cl = ngx_chain_get_free_buf(r->pool, &r->free);
    if (cl == NULL) {
        redisFreeCommand(s);
        return NGX_ERROR;
    }

    b = cl->buf;

    if (b->start == NULL || (size_t) (b->end - b->start) < (size_t) n) {
        b->start = ngx_palloc(r->pool, ngx_max((size_t) n, 256));
        if (b->start == NULL) {
            redisFreeCommand(s);
            return NGX_ERROR;
        }

        b->end = b->start + ngx_max((size_t) n, 256);
    }

    b->pos = b->start;
    b->last = ngx_cpymem(b->start, s, n);
    b->memory = 1;
    b->tag = (ngx_buf_tag_t) &ngx_http_smile_webhook_module;

    redisFreeCommand(s);

    for (ll = &r->out; *ll; ll = &(*ll)->next) { /* void */ }
    *ll = cl;

    cmd = r->spare;

    if (cmd) {
        r->spare = cmd->next;

    } else {
        cmd = ngx_palloc(r->pool, sizeof(ngx_http_smile_webhook_redis_cmd_t));
        if (cmd == NULL) {
            return NGX_ERROR;
        }
    }

    cmd->next = NULL;
    cmd->handler = handler;
    cmd->data = data;
    cmd->sent = ngx_current_msec;

    if (r->tail) {
        r->tail->next = cmd;

    } else {
        r->head = cmd;
    }

    r->tail = cmd;

    if (out) {
        *out = cmd;
    }

    return NGX_OK;
}


static void
ngx_http_smile_webhook_redis_write(ngx_event_t *wev)
{
    ssize_t                          n;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_connection_t                *c;
    ngx_http_smile_webhook_redis_t  *r;

    c = wev->data;
    r = c->data;

    while (r->out) {
        cl = r->out;
        b = cl->buf;

        if (b->pos == b->last) {
            r->out = cl->next;
            cl->next = r->free;
            r->free = cl;
            continue;
        }

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            ngx_http_smile_webhook_redis_fail("send() failed", ngx_errno);
            return;
        }

        b->pos += n;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_smile_webhook_redis_fail("a write event failed", 0);
        return;
    }

    if (r->head && !c->read->timer_set) {
        ngx_add_timer(c->read, r->conf->timeout);
    }
}


static void
ngx_http_smile_webhook_redis_read(ngx_event_t *rev)
{
    void                                *reply;
    ssize_t                              n;
    ngx_connection_t                    *c;
    ngx_http_smile_webhook_redis_t      *r;
    ngx_http_smile_webhook_redis_cmd_t  *cmd;
    u_char                               buf[NGX_HTTP_SMILE_REDIS_BUF];

    c = rev->data;
    r = c->data;

    if (rev->timedout) {
        ngx_http_smile_webhook_redis_fail("no reply in time", NGX_ETIMEDOUT);
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0) {
            ngx_http_smile_webhook_redis_fail("the server closed the "
                                              "connection", 0);
            return;
        }

        if (n == NGX_ERROR
            || redisReaderFeed(r->reader, (char *) buf, n) != REDIS_OK)
        {
            ngx_http_smile_webhook_redis_fail("recv() failed", ngx_errno);
            return;
        }

        for ( ;; ) {
            if (redisReaderGetReply(r->reader, &reply) != REDIS_OK) {
                ngx_http_smile_webhook_redis_fail("a reply is not RESP", 0);
                return;
            }

            if (reply == NULL) {
                break;
            }

            cmd = r->head;

            if (cmd == NULL) {
                freeReplyObject(reply);
                ngx_http_smile_webhook_redis_fail("a reply to no command",
                                                  0);
                return;
            }

            r->head = cmd->next;
            if (r->head == NULL) {
                r->tail = NULL;
            }

            if (cmd->handler) {
                cmd->handler(cmd->data, reply);
            }

            freeReplyObject(reply);

            cmd->next = r->spare;
            r->spare = cmd;

            if (r->peer.connection == NULL) {
                /* a handler failed the connection */
                return;
            }
        }
    }

    if (rev->timer_set) {
        ngx_del_timer(rev);
    }

    if (r->head) {
        ngx_add_timer(rev, r->conf->timeout);
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_smile_webhook_redis_fail("a read event failed", 0);
    }
}


/*
 * The connection failed: every waiting command is told (no reply), the
 * connection is closed, and opened again after the back-off.
 */

static void
ngx_http_smile_webhook_redis_fail(const char *why, ngx_err_t err)
{
    ngx_chain_t                         *cl;
    ngx_http_smile_webhook_redis_t      *r;
    ngx_http_smile_webhook_redis_cmd_t  *cmd, *head;

    r = &ngx_http_smile_webhook_redis_conn;

    r->state = NGX_HTTP_SMILE_REDIS_DOWN;

    if (r->peer.connection) {
        ngx_close_connection(r->peer.connection);
        r->peer.connection = NULL;
    }

    if (r->reader) {
        redisReaderFree(r->reader);
        r->reader = NULL;
    }

    head = r->head;
    r->head = NULL;
    r->tail = NULL;

    for (cmd = head; cmd; cmd = cmd->next) {
        if (cmd->handler) {
            cmd->handler(cmd->data, NULL);
        }
    }

    while (head) {
        cmd = head;
        head = cmd->next;
        cmd->next = r->spare;
        r->spare = cmd;
    }

    /* what was not written is dropped with the connection */

    while (r->out) {
        cl = r->out;
        r->out = cl->next;
        cl->next = r->free;
        r->free = cl;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, err,
                  "smile webhook: redis %V: %s", &r->conf->addr.name, why);

    ngx_http_smile_webhook_redis_state(0, &r->conf->addr.name, why);

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(&r->retry, r->backoff);

    r->backoff = ngx_min(r->backoff * 2, NGX_HTTP_SMILE_REDIS_BACKOFF_MAX);
}
