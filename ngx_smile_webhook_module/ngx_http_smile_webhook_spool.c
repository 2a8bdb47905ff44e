
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * Store and forward: an authentic event the app could not take (it was
 * unreachable, timed out, or answered 5xx or 429) is written to the spool
 * directory, and Smile gets 202 once the file is durably there.
 *
 * The decision is taken in a header filter, when the app's answer (or
 * nginx's 502/504 for its absence) is about to go out: that answer is held
 * back (its body swallowed), the record is written by a thread of nginx's
 * thread pool (temporary name, fsync, rename, fsync of the directory) and
 * the client gets 202 "spooled", or, when the write failed or the spool is
 * full, the app's status with no body, so that Smile retries.  The request
 * is kept alive meanwhile (a reference and r->main->blocked, as the copy
 * filter does for its threads).
 *
 * A record is text lines, then the body:
 *
 *     SMILE-SPOOL 1
 *     received: 1765000000
 *     socket: /var/spool/smile/replay.sock
 *     host: hooks.example.com
 *     uri: /smile/webhook
 *     id: et-123abc...
 *     type: USER_CREATED
 *     created-at: 2021-04-14T09:30:24Z
 *     user-id: tenantId-...
 *     header: Smile-Signature: 3b8e...
 *     header: Content-Type: application/json
 *     length: 206
 *
 *     {"id":...}
 *
 * named ev-RECEIVED-ATTEMPTS-ID, where ATTEMPTS counts the deliveries made
 * (1 after the first); _replay.c delivers it again.  Each spool directory
 * is a registered nginx path: nginx creates it with the workers' owner,
 * and runs the replayer in its cache manager process.  A unix socket in
 * it, PATH/replay.sock, is added as a listener to every server with a
 * spooling location, so that a replay comes back through the same server
 * and location, whatever its other listeners are (TLS, proxy_protocol).
 */


#include "ngx_http_smile_webhook_module.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <hiredis/hiredis.h>


#define NGX_HTTP_SMILE_SPOOL_RETRY      30
#define NGX_HTTP_SMILE_SPOOL_KEEP       (7 * 86400)
#define NGX_HTTP_SMILE_SPOOL_ZONE       (8 * 4096)
#define NGX_HTTP_SMILE_SPOOL_CHUNK      16384
#define NGX_HTTP_SMILE_SPOOL_HOLD       3600000


/* one record being written: the thread's view of it */
typedef struct {
    ngx_http_request_t         *request;
    ngx_http_smile_webhook_spool_t  *spool;
    u_char                     *temp;       /* NUL-terminated paths */
    u_char                     *name;
    ngx_str_t                   head;
    ngx_chain_t                *body;
    off_t                       size;
    ngx_err_t                   err;
    const char                 *op;         /* the call that failed */
    ngx_event_t                 hold;       /* keeps an exiting worker */
#if (NGX_THREADS)
    ngx_thread_task_t          *task;
#endif
    ngx_http_smile_webhook_redis_cmd_t  *cmd;   /* XADD, waiting */
    unsigned                    shared:1;   /* in the Redis stream */
} ngx_http_smile_webhook_spool_write_t;


static ngx_int_t ngx_http_smile_webhook_spool_path(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *value,
    ngx_http_smile_webhook_spool_t *spool);
static ngx_int_t ngx_http_smile_webhook_spool_stream_name(ngx_str_t *name);
static ngx_int_t ngx_http_smile_webhook_spool_params(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_http_smile_webhook_spool_t *spool);
static ngx_int_t ngx_http_smile_webhook_spool_create(ngx_conf_t *cf,
    ngx_http_smile_webhook_spool_t *spool);
static ngx_int_t ngx_http_smile_webhook_spool_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_smile_webhook_spool_listen(ngx_conf_t *cf,
    ngx_http_smile_webhook_spool_t *spool);
static ngx_int_t ngx_http_smile_webhook_replay_content(ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_spool_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_spool_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_int_t ngx_http_smile_webhook_app_failed(ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_spool_start(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_spool_record(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx,
    ngx_http_smile_webhook_spool_write_t *w);
static size_t ngx_http_smile_webhook_spool_headers(ngx_http_request_t *r,
    u_char *p);
static ngx_int_t ngx_http_smile_webhook_spool_kept(ngx_table_elt_t *h);
static void ngx_http_smile_webhook_spool_write(void *data, ngx_log_t *log);
static ngx_int_t ngx_http_smile_webhook_spool_write_body(int fd,
    ngx_http_smile_webhook_spool_write_t *w);
static ngx_int_t ngx_http_smile_webhook_write_all(int fd, u_char *p,
    size_t len);
static void ngx_http_smile_webhook_spool_file(
    ngx_http_smile_webhook_spool_write_t *w);
static ngx_int_t ngx_http_smile_webhook_spool_share(ngx_http_request_t *r,
    ngx_http_smile_webhook_spool_write_t *w);
static void ngx_http_smile_webhook_spool_shared(void *data, void *rp);
static ngx_int_t ngx_http_smile_webhook_spool_whole(ngx_http_request_t *r,
    ngx_http_smile_webhook_spool_write_t *w, ngx_str_t *record);
static void ngx_http_smile_webhook_spool_hold(ngx_event_t *ev);
#if (NGX_THREADS)
static void ngx_http_smile_webhook_spool_written(ngx_event_t *ev);
#endif
static void ngx_http_smile_webhook_spool_done(
    ngx_http_smile_webhook_spool_write_t *w);
static ngx_int_t ngx_http_smile_webhook_spool_answer(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_uint_t status);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_smile_webhook_spool_socket =
    ngx_string("replay.sock");


/* request headers a replay does not repeat: the connection's own */
static ngx_str_t  ngx_http_smile_webhook_hop_headers[] = {
    ngx_string("Host"),
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("Proxy-Connection"),
    ngx_string("TE"),
    ngx_string("Trailer"),
    ngx_string("Upgrade"),
    ngx_string("Transfer-Encoding"),
    ngx_string("Content-Length"),
    ngx_string("Expect"),
    ngx_null_string
};


/*
 * smile_webhook_spool PATH [max_size=SIZE] [retry=TIME] [keep=TIME]
 *     [stream=NAME] | off
 */

char *
ngx_http_smile_webhook_spool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    ngx_str_t                           *value;
    ngx_uint_t                           i;
    ngx_http_smile_webhook_spool_t      *spool, **sp;
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    if (swlcf->spool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        swlcf->spool = NULL;
        return NGX_CONF_OK;
    }

    spool = ngx_pcalloc(cf->pool, sizeof(ngx_http_smile_webhook_spool_t));
    if (spool == NULL) {
        return NGX_CONF_ERROR;
    }

    spool->retry = NGX_HTTP_SMILE_SPOOL_RETRY;
    spool->keep = NGX_HTTP_SMILE_SPOOL_KEEP;
    ngx_str_set(&spool->stream, "stream");
    spool->file = cf->conf_file->file.name.data;
    spool->line = cf->conf_file->line;

    if (ngx_http_smile_webhook_spool_path(cf, cmd, &value[1], spool) != NGX_OK
        || ngx_http_smile_webhook_spool_params(cf, cmd, spool) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* one spool per directory: the same path twice must say the same */

    swmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_smile_webhook_module);

    if (swmcf->spools == NULL) {
        swmcf->spools = ngx_array_create(cf->pool, 2,
                                    sizeof(ngx_http_smile_webhook_spool_t *));
        if (swmcf->spools == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    sp = swmcf->spools->elts;

    for (i = 0; i < swmcf->spools->nelts; i++) {
        if (sp[i]->path.len != spool->path.len
            || ngx_strcmp(sp[i]->path.data, spool->path.data) != 0)
        {
            continue;
        }

        if (sp[i]->max_size != spool->max_size
            || sp[i]->retry != spool->retry
            || sp[i]->keep != spool->keep
            || sp[i]->stream.len != spool->stream.len
            || ngx_strncmp(sp[i]->stream.data, spool->stream.data,
                           spool->stream.len) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "spool \"%V\" is set with other parameters "
                               "in %s:%ui", &spool->path, sp[i]->file,
                               sp[i]->line);
            return NGX_CONF_ERROR;
        }

        swlcf->spool = sp[i];
        return NGX_CONF_OK;
    }

    if (ngx_http_smile_webhook_spool_create(cf, spool) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    sp = ngx_array_push(swmcf->spools);
    if (sp == NULL) {
        return NGX_CONF_ERROR;
    }

    *sp = spool;
    swlcf->spool = spool;

    return NGX_CONF_OK;
}


/*
 * The directory, as a full path of its own, NUL-terminated and without a
 * trailing "/"; a Prometheus label value (nothing to escape in it), and
 * short enough for PATH/replay.sock to fit in a sockaddr_un.
 */

static ngx_int_t
ngx_http_smile_webhook_spool_path(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value, ngx_http_smile_webhook_spool_t *spool)
{
    u_char      *p;
    size_t       max;
    ngx_str_t    path;
    ngx_uint_t   i;

    path = *value;

    if (path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty path in \"%V\" directive", &cmd->name);
        return NGX_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    while (path.len > 1 && path.data[path.len - 1] == '/') {
        path.len--;
    }

    for (i = 0; i < path.len; i++) {
        if (path.data[i] < 0x20 || path.data[i] == '"'
            || path.data[i] == '\\' || path.data[i] == 0x7f)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid path \"%V\" in \"%V\" directive, "
                               "it must not hold quotes, backslashes or "
                               "control characters", value, &cmd->name);
            return NGX_ERROR;
        }
    }

    max = sizeof(((struct sockaddr_un *) 0)->sun_path);

    if (path.len + 1 + ngx_http_smile_webhook_spool_socket.len >= max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "path \"%V\" is too long in \"%V\" directive, "
                           "a unix socket in it must fit in %uz bytes", value,
                           &cmd->name, max);
        return NGX_ERROR;
    }

    p = ngx_pnalloc(cf->pool, path.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, path.data, path.len);
    p[path.len] = '\0';

    spool->path.data = p;
    spool->path.len = path.len;

    return NGX_OK;
}


/*
 * max_size=SIZE retry=TIME keep=TIME, each at least 1; stream=NAME, of
 * letters, digits and "_-.:", at most 64 of them
 */

static ngx_int_t
ngx_http_smile_webhook_spool_params(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_smile_webhook_spool_t *spool)
{
    time_t      *t;
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_size=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            spool->max_size = ngx_parse_offset(&s);

            if (spool->max_size == NGX_ERROR || spool->max_size == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "stream=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            if (ngx_http_smile_webhook_spool_stream_name(&s) != NGX_OK) {
                goto invalid;
            }

            spool->stream = s;
            continue;
        }

        if (ngx_strncmp(value[i].data, "retry=", 6) == 0) {
            t = &spool->retry;
            s.data = value[i].data + 6;

        } else if (ngx_strncmp(value[i].data, "keep=", 5) == 0) {
            t = &spool->keep;
            s.data = value[i].data + 5;

        } else {
            goto invalid;
        }

        s.len = value[i].data + value[i].len - s.data;

        *t = ngx_parse_time(&s, 1);

        if (*t == (time_t) NGX_ERROR || *t == 0) {
            goto invalid;
        }
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_smile_webhook_spool_stream_name(ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 64) {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z')
            && !(c >= '0' && c <= '9') && c != '_' && c != '-' && c != '.'
            && c != ':')
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The directory (a path nginx creates for the workers' user, and whose
 * manager, run in the cache manager process, is the replayer), its shared
 * state, and the thread pool that writes records.
 */

static ngx_int_t
ngx_http_smile_webhook_spool_create(ngx_conf_t *cf,
    ngx_http_smile_webhook_spool_t *spool)
{
    u_char          *p;
    ngx_str_t        name;
    ngx_path_t      *path;
    ngx_shm_zone_t  *shm_zone;

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_ERROR;
    }

    path->name = spool->path;
    path->manager = ngx_http_smile_webhook_replay_manager;
    path->data = spool;
    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    spool->ngx_path = path;

    if (ngx_add_path(cf, &spool->ngx_path) != NGX_OK) {
        return NGX_ERROR;
    }

    /* PATH/replay.sock, and PATH/ to build file names on */

    spool->socket.len = spool->path.len + 1
                        + ngx_http_smile_webhook_spool_socket.len;
    spool->socket.data = ngx_pnalloc(cf->pool, spool->socket.len + 1);
    if (spool->socket.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(spool->socket.data, spool->path.data, spool->path.len);
    *p++ = '/';
    p = ngx_cpymem(p, ngx_http_smile_webhook_spool_socket.data,
                   ngx_http_smile_webhook_spool_socket.len);
    *p = '\0';

    name.len = sizeof("smile_webhook:spool:") - 1 + spool->path.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "smile_webhook:spool:%V", &spool->path);

    shm_zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_SMILE_SPOOL_ZONE,
                                     &ngx_http_smile_webhook_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_smile_webhook_spool_init_zone;
    shm_zone->data = spool;
    spool->zone = shm_zone;

#if (NGX_THREADS)
    spool->thread_pool = ngx_thread_pool_add(cf, NULL);
    if (spool->thread_pool == NULL) {
        return NGX_ERROR;
    }
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_spool_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_smile_webhook_spool_t *ospool = data;

    ngx_uint_t                          i;
    ngx_slab_pool_t                    *shpool;
    ngx_http_smile_webhook_spool_t     *spool;
    ngx_http_smile_webhook_spool_sh_t  *sh;

    spool = shm_zone->data;

    if (ospool) {
        /* a reload: the counters and the token go on */
        spool->sh = ospool->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        spool->sh = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_smile_webhook_spool_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    spool->sh = sh;

    /* a replay proves itself with this, which only this node knows */

    if (RAND_bytes(sh->token, sizeof(sh->token) / 2) != 1) {
        return NGX_ERROR;
    }

    for (i = sizeof(sh->token) / 2; i-- > 0; /* void */) {
        sh->token[2 * i + 1] = "0123456789abcdef"[sh->token[i] & 0xf];
        sh->token[2 * i] = "0123456789abcdef"[sh->token[i] >> 4];
    }

    return NGX_OK;
}


ngx_http_smile_webhook_spool_stats_t *
ngx_http_smile_webhook_spool_stats(ngx_http_smile_webhook_spool_t *spool,
    ngx_str_t *path)
{
    ngx_http_smile_webhook_spool_sh_t  *sh;

    sh = spool->sh;
    *path = spool->path;

    return sh ? &sh->stats : NULL;
}


/*
 * At merge: a location that spools gets its server a listener on the
 * spool's replay socket, once per server and spool.
 */

ngx_int_t
ngx_http_smile_webhook_spool_merge(ngx_conf_t *cf,
    ngx_http_smile_webhook_loc_conf_t *prev,
    ngx_http_smile_webhook_loc_conf_t *conf)
{
    ngx_conf_merge_ptr_value(conf->spool, prev->spool, NULL);

    if (conf->spool == NULL
        || conf->enable != NGX_HTTP_SMILE_WEBHOOK_ON)
    {
        return NGX_OK;
    }

    return ngx_http_smile_webhook_spool_listen(cf, conf->spool);
}


static ngx_int_t
ngx_http_smile_webhook_spool_listen(ngx_conf_t *cf,
    ngx_http_smile_webhook_spool_t *spool)
{
    ngx_url_t                  u;
    ngx_uint_t                 i;
    ngx_http_listen_opt_t      lsopt;
    ngx_http_core_srv_conf_t  *cscf, **cp;

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    if (spool->servers == NULL) {
        spool->servers = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_core_srv_conf_t *));
        if (spool->servers == NULL) {
            return NGX_ERROR;
        }
    }

    cp = spool->servers->elts;

    for (i = 0; i < spool->servers->nelts; i++) {
        if (cp[i] == cscf) {
            return NGX_OK;
        }
    }

    cp = ngx_array_push(spool->servers);
    if (cp == NULL) {
        return NGX_ERROR;
    }

    *cp = cscf;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.len = sizeof("unix:") - 1 + spool->socket.len;
    u.url.data = ngx_pnalloc(cf->pool, u.url.len);
    if (u.url.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(u.url.data, "unix:%V", &spool->socket);
    u.listen = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in replay socket \"%V\" of "
                           "\"smile_webhook_spool\"",
                           u.err ? u.err : "invalid address", &u.url);
        return NGX_ERROR;
    }

    ngx_memzero(&lsopt, sizeof(ngx_http_listen_opt_t));

    lsopt.sockaddr = u.addrs[0].sockaddr;
    lsopt.socklen = u.addrs[0].socklen;
    lsopt.addr_text = u.addrs[0].name;
    lsopt.backlog = NGX_LISTEN_BACKLOG;
    lsopt.rcvbuf = -1;
    lsopt.sndbuf = -1;
#if (nginx_version >= 1025000)
    lsopt.type = SOCK_STREAM;
#endif
#if (NGX_HAVE_SETFIB)
    lsopt.setfib = -1;
#endif
#if (NGX_HAVE_TCP_FASTOPEN)
    lsopt.fastopen = -1;
#endif

    return ngx_http_add_listen(cf, cscf, &lsopt);
}


/*
 * A replay: a request to this node's replay socket that carries the
 * spool's token and the attempt number.  0 for any other request.
 */

ngx_uint_t
ngx_http_smile_webhook_replay_attempt(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    u_char                             *p, *last;
    ngx_int_t                           n;
    ngx_uint_t                          i;
    ngx_list_part_t                    *part;
    ngx_table_elt_t                    *h;
    ngx_http_smile_webhook_spool_sh_t  *sh;

    if (ctx->conf->spool == NULL || ctx->conf->spool->sh == NULL) {
        return 0;
    }

    sh = ctx->conf->spool->sh;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (h[i].key.len != sizeof("X-Smile-Replay") - 1
                || ngx_strncasecmp(h[i].key.data, (u_char *) "X-Smile-Replay",
                                   sizeof("X-Smile-Replay") - 1)
                   != 0)
            {
                continue;
            }

            /* "TOKEN ATTEMPT" */

            p = h[i].value.data;
            last = p + h[i].value.len;

            if (h[i].value.len < sizeof(sh->token) + 2
                || p[sizeof(sh->token)] != ' '
                || CRYPTO_memcmp(p, sh->token, sizeof(sh->token)) != 0)
            {
                return 0;
            }

            p += sizeof(sh->token) + 1;

            n = ngx_atoi(p, last - p);

            return (n == NGX_ERROR || n < 2) ? 0 : (ngx_uint_t) n;
        }
    }

    return 0;
}


/*
 * A replay that is forwarded runs to the app's answer even when the
 * replayer goes away meanwhile (a reload, a crash of the cache manager):
 * otherwise nginx would drop the upstream request as for a client that
 * closed, the app might have taken the event without its 2xx being seen,
 * and the next replay would bring it twice.  The location's content
 * handler is wrapped so that, once it has started the upstream, the
 * client connection is no longer watched (as proxy_ignore_client_abort
 * does); the answer is then written to whatever is left of it.
 */

void
ngx_http_smile_webhook_replay_hold(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    if (r->content_handler == NULL) {
        return;
    }

    ctx->content = r->content_handler;
    r->content_handler = ngx_http_smile_webhook_replay_content;
}


static ngx_int_t
ngx_http_smile_webhook_replay_content(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_smile_webhook_get_ctx(r);

    rc = ctx->content(r);

    if (r->upstream && !r->upstream->store) {
        r->read_event_handler = ngx_http_block_reading;
        r->write_event_handler = ngx_http_request_empty_handler;
    }

    return rc;
}


/*
 * The app's answer to an authentic event, on its way out: held back and
 * the event spooled when the app failed.  Only main requests that were
 * forwarded in "on" mode spool; a replay's failure goes back to the
 * replayer as it is.
 */

static ngx_int_t
ngx_http_smile_webhook_spool_header_filter(ngx_http_request_t *r)
{
    ngx_http_smile_webhook_ctx_t  *ctx;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_smile_webhook_get_ctx(r);

    if (ctx == NULL
        || ctx->answering
        || ctx->swallow
        || ctx->attempt
        || ctx->conf->spool == NULL
        || ctx->conf->enable != NGX_HTTP_SMILE_WEBHOOK_ON
        || ctx->result != NGX_HTTP_SMILE_WEBHOOK_OK
        || !ngx_http_smile_webhook_app_failed(r))
    {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_smile_webhook_spool_start(r, ctx) != NGX_OK) {
        /* not spooled: the app's failure goes to Smile, which retries */
        return ngx_http_next_header_filter(r);
    }

    /* held back until the record is written */

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_spool_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    ngx_chain_t                   *cl;
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_smile_webhook_module);

    if (ctx == NULL || !ctx->swallow || ctx->answering) {
        return ngx_http_next_body_filter(r, in);
    }

    /* the app's answer, held back: taken as sent */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    return NGX_OK;
}


/*
 * The last upstream answer was a failure: 5xx (the app's, or nginx's 502
 * and 504 when it could not be reached or did not answer in time) or 429.
 */

static ngx_int_t
ngx_http_smile_webhook_app_failed(ngx_http_request_t *r)
{
    ngx_uint_t                  status;
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return 0;
    }

    state = r->upstream_states->elts;
    status = state[r->upstream_states->nelts - 1].status;

    if (status == 0) {
        /* no answer was read: what nginx sends instead says why */
        status = r->headers_out.status;
    }

    return status >= NGX_HTTP_INTERNAL_SERVER_ERROR
           || status == NGX_HTTP_TOO_MANY_REQUESTS;
}


/* room in the spool, the record in memory, and a thread to write it */

static ngx_int_t
ngx_http_smile_webhook_spool_start(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_atomic_int_t                       bytes;
    ngx_http_smile_webhook_spool_t        *spool;
    ngx_http_smile_webhook_spool_write_t  *w;
#if (NGX_THREADS)
    ngx_thread_task_t                     *task;
#endif

    spool = ctx->conf->spool;

#if (NGX_THREADS)
    task = ngx_thread_task_alloc(r->pool,
                              sizeof(ngx_http_smile_webhook_spool_write_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    w = task->ctx;
#else
    w = ngx_pcalloc(r->pool, sizeof(ngx_http_smile_webhook_spool_write_t));
    if (w == NULL) {
        return NGX_ERROR;
    }
#endif

    w->request = r;
    w->spool = spool;

    if (ngx_http_smile_webhook_spool_record(r, ctx, w) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * max_size: room is reserved before the write and given back after it;
     * the bytes in the directory are the replayer's count, set at each of
     * its scans, plus the records written since
     */

    bytes = ngx_atomic_fetch_add(&spool->sh->reserved, w->size)
            + (ngx_atomic_int_t) spool->sh->stats.bytes;

    if (spool->max_size && bytes + w->size > spool->max_size) {
        (void) ngx_atomic_fetch_add(&spool->sh->reserved, -w->size);
        (void) ngx_atomic_fetch_add(&spool->sh->stats.full, 1);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "smile webhook: spool \"%V\" is full (max_size), "
                      "event id \"%s\" is not spooled and the app's %ui "
                      "goes to the client", &spool->path,
                      ctx->event.id.data, r->headers_out.status);
        return NGX_DECLINED;
    }

    ctx->swallow = 1;
    ctx->spooling = 1;
    r->main->count++;
    r->main->blocked++;

    /*
     * A worker that exits after a reload waits for its timers: this one
     * keeps it until the record is written and the client answered.
     */

    w->hold.handler = ngx_http_smile_webhook_spool_hold;
    w->hold.data = w;
    w->hold.log = r->connection->log;
    ngx_add_timer(&w->hold, NGX_HTTP_SMILE_SPOOL_HOLD);

#if (NGX_THREADS)
    w->task = task;
#endif

    if (ngx_http_smile_webhook_spool_share(r, w) == NGX_OK) {
        return NGX_OK;
    }

    ngx_http_smile_webhook_spool_file(w);

    return NGX_OK;
}


/* the record to the spool directory, by a thread */

static void
ngx_http_smile_webhook_spool_file(ngx_http_smile_webhook_spool_write_t *w)
{
#if (NGX_THREADS)
    ngx_thread_task_t  *task;

    task = w->task;

    task->handler = ngx_http_smile_webhook_spool_write;
    task->event.data = task;
    task->event.handler = ngx_http_smile_webhook_spool_written;

    if (ngx_thread_task_post(w->spool->thread_pool, task) == NGX_OK) {
        return;
    }

    /* the queue is full: written here, rather than not at all */
#endif

    ngx_http_smile_webhook_spool_write(w, w->request->connection->log);
    ngx_http_smile_webhook_spool_done(w);
}


/*
 * With smile_webhook_redis, the record goes to a Redis stream that every
 * node's replayer reads: XADD PREFIX{spool}:stream * r RECORD.  Acknowledged
 * once Redis has it (its own persistence decides what survives a crash of
 * Redis).  NGX_DECLINED when Redis is not there: the file, as before.
 */

static ngx_int_t
ngx_http_smile_webhook_spool_share(ngx_http_request_t *r,
    ngx_http_smile_webhook_spool_write_t *w)
{
    ngx_str_t                             key, record;
    ngx_http_smile_webhook_redis_conf_t  *rcf;
    const char                           *argv[5];
    size_t                                argvlen[5];

    rcf = ngx_http_smile_webhook_redis_conf();

    if (rcf == NULL) {
        return NGX_DECLINED;
    }

    if (!ngx_http_smile_webhook_redis_up()
        || ngx_http_smile_webhook_spool_stream_key(r->pool, rcf, w->spool,
                                                   &key)
           != NGX_OK
        || ngx_http_smile_webhook_spool_whole(r, w, &record) != NGX_OK)
    {
        ngx_http_smile_webhook_redis_fallback(
                                        NGX_HTTP_SMILE_REDIS_FALLBACK_SPOOL);
        return NGX_DECLINED;
    }

    argv[0] = "XADD";
    argvlen[0] = 4;
    argv[1] = (const char *) key.data;
    argvlen[1] = key.len;
    argv[2] = "*";
    argvlen[2] = 1;
    argv[3] = "r";
    argvlen[3] = 1;
    argv[4] = (const char *) record.data;
    argvlen[4] = record.len;

    if (ngx_http_smile_webhook_redis_command(
            ngx_http_smile_webhook_spool_shared, w, 5, argv, argvlen,
            &w->cmd)
        != NGX_OK)
    {
        ngx_http_smile_webhook_redis_fallback(
                                        NGX_HTTP_SMILE_REDIS_FALLBACK_SPOOL);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* Redis has the record, or did not answer: then the file */

static void
ngx_http_smile_webhook_spool_shared(void *data, void *rp)
{
    ngx_http_smile_webhook_spool_write_t *w = data;

    redisReply  *reply = rp;

    w->cmd = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_http_smile_webhook_redis_fallback(
                                        NGX_HTTP_SMILE_REDIS_FALLBACK_SPOOL);
        ngx_http_smile_webhook_spool_file(w);
        return;
    }

    w->shared = 1;
    w->err = 0;
    w->op = NULL;

    ngx_http_smile_webhook_spool_done(w);
}


/*
 * The key of the stream all nodes share, PREFIX{spool}:NAME, NAME from the
 * spool's stream= ("stream"); in one Cluster slot
 */

ngx_int_t
ngx_http_smile_webhook_spool_stream_key(ngx_pool_t *pool,
    ngx_http_smile_webhook_redis_conf_t *rcf,
    ngx_http_smile_webhook_spool_t *spool, ngx_str_t *key)
{
    key->len = rcf->prefix.len + sizeof("{spool}:") - 1 + spool->stream.len;
    key->data = ngx_pnalloc(pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(key->data, "%V{spool}:%V", &rcf->prefix, &spool->stream);

    return NGX_OK;
}


/*
 * The whole record in memory, for Redis: its lines and the body, read from
 * the request's temporary file if it is there (a read the worker makes
 * itself, as when it proxies such a body).
 */

static ngx_int_t
ngx_http_smile_webhook_spool_whole(ngx_http_request_t *r,
    ngx_http_smile_webhook_spool_write_t *w, ngx_str_t *record)
{
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    record->data = ngx_pnalloc(r->pool, (size_t) w->size);
    if (record->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(record->data, w->head.data, w->head.len);

    for (cl = w->body; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            if (ngx_buf_in_memory(b)) {
                p = ngx_cpymem(p, b->pos, b->last - b->pos);
            }

            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }

        p += n;
    }

    record->len = p - record->data;

    return NGX_OK;
}


/* the record's lines, and the file names */

static ngx_int_t
ngx_http_smile_webhook_spool_record(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_spool_write_t *w)
{
    u_char                          *p;
    off_t                            length;
    size_t                           len;
    ngx_str_t                       *host, none = ngx_null_string;
    ngx_uint_t                       n;
    ngx_chain_t                     *cl;
    smile_event_t                   *ev;
    ngx_http_smile_webhook_spool_t  *spool;

    spool = w->spool;
    ev = &ctx->event;
    host = r->headers_in.host ? &r->headers_in.host->value : &none;

    w->body = r->request_body ? r->request_body->bufs : NULL;
    length = 0;

    for (cl = w->body; cl; cl = cl->next) {
        length += cl->buf->in_file ? cl->buf->file_last - cl->buf->file_pos
                                   : ngx_buf_size(cl->buf);
    }

    len = sizeof("SMILE-SPOOL 1\n") - 1
          + sizeof("received: \n") - 1 + NGX_TIME_T_LEN
          + sizeof("socket: \n") - 1 + spool->socket.len
          + sizeof("host: \n") - 1 + host->len
          + sizeof("uri: \n") - 1 + r->unparsed_uri.len
          + sizeof("id: \ntype: \ncreated-at: \nuser-id: \n") - 1
          + ev->id.len + ev->type.len + ev->created_at.len + ev->user_id.len
          + ngx_http_smile_webhook_spool_headers(r, NULL)
          + sizeof("length: \n\n") - 1 + NGX_OFF_T_LEN;

    w->head.data = ngx_pnalloc(r->pool, len);
    if (w->head.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(w->head.data, "SMILE-SPOOL 1\nreceived: %T\n"
                    "socket: %V\nhost: %V\nuri: %V\nid: %s\ntype: %s\n"
                    "created-at: %s\nuser-id: %s\n",
                    r->start_sec, &spool->socket, host, &r->unparsed_uri,
                    ev->id.data, ev->type.data, ev->created_at.data,
                    ev->user_id.data);

    p += ngx_http_smile_webhook_spool_headers(r, p);
    p = ngx_sprintf(p, "length: %O\n\n", length);

    w->head.len = p - w->head.data;
    w->size = w->head.len + length;

    /* PATH/ev-RECEIVED-1-ID, written as PATH/tmp-PID-N-ID */

    len = spool->path.len + sizeof("/ev--1-") + NGX_TIME_T_LEN + ev->id.len;

    w->name = ngx_pnalloc(r->pool, len);
    if (w->name == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(w->name, "%V/ev-%T-1-%s%Z", &spool->path, r->start_sec,
                ev->id.data);

    n = (ngx_uint_t) ngx_next_temp_number(0);
    len = spool->path.len + sizeof("/tmp---") + NGX_INT_T_LEN * 2
          + ev->id.len;

    w->temp = ngx_pnalloc(r->pool, len);
    if (w->temp == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(w->temp, "%V/tmp-%P-%ui-%s%Z", &spool->path, ngx_pid, n,
                ev->id.data);

    return NGX_OK;
}


/*
 * The client's request headers a replay repeats, as "header: " lines, or
 * their length when p is NULL: all but the connection's own and X-Smile-*
 * (the module adds those again).
 */

static size_t
ngx_http_smile_webhook_spool_headers(ngx_http_request_t *r, u_char *p)
{
    size_t            len;
    u_char           *start;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = 0;
    start = p;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (!ngx_http_smile_webhook_spool_kept(&h[i])) {
                continue;
            }

            if (p == NULL) {
                len += sizeof("header: : \n") - 1 + h[i].key.len
                       + h[i].value.len;
                continue;
            }

            p = ngx_sprintf(p, "header: %V: %V\n", &h[i].key, &h[i].value);
        }
    }

    return p ? (size_t) (p - start) : len;
}


static ngx_int_t
ngx_http_smile_webhook_spool_kept(ngx_table_elt_t *h)
{
    ngx_str_t  *hop;

    if (ngx_http_smile_webhook_is_smile_header(h->key.data, h->key.len)) {
        return 0;
    }

    for (hop = ngx_http_smile_webhook_hop_headers; hop->len; hop++) {
        if (hop->len == h->key.len
            && ngx_strncasecmp(hop->data, h->key.data, hop->len) == 0)
        {
            return 0;
        }
    }

    return 1;
}


/*
 * In a thread (no allocation, no log): the record to a temporary file,
 * synced, renamed to its name, and the directory synced, so that a name
 * in the directory is always a whole record.  The body's buffers stay
 * valid meanwhile: the request is blocked.
 */

static void
ngx_http_smile_webhook_spool_write(void *data, ngx_log_t *log)
{
    ngx_http_smile_webhook_spool_write_t *w = data;

    int  fd, dir;

    fd = open((char *) w->temp, O_WRONLY|O_CREAT|O_EXCL, 0600);
    if (fd == -1) {
        w->op = "open()";
        goto failed;
    }

    if (ngx_http_smile_webhook_write_all(fd, w->head.data, w->head.len)
        != NGX_OK)
    {
        w->op = "write()";
        goto failed_file;
    }

    if (ngx_http_smile_webhook_spool_write_body(fd, w) != NGX_OK) {
        goto failed_file;
    }

    if (fsync(fd) == -1) {
        w->op = "fsync()";
        goto failed_file;
    }

    if (close(fd) == -1) {
        w->op = "close()";
        goto failed_temp;
    }

    if (rename((char *) w->temp, (char *) w->name) == -1) {
        w->op = "rename()";
        goto failed_temp;
    }

    dir = open((char *) w->spool->path.data, O_RDONLY);

    if (dir == -1 || fsync(dir) == -1) {
        w->err = errno;
        w->op = "fsync() of the directory";

        if (dir != -1) {
            (void) close(dir);
        }

        /* the record may not survive a power cut: not acknowledged */
        (void) unlink((char *) w->name);
        return;
    }

    (void) close(dir);

    w->err = 0;
    return;

failed_file:

    w->err = errno;
    (void) close(fd);
    (void) unlink((char *) w->temp);
    return;

failed_temp:

    w->err = errno;
    (void) unlink((char *) w->temp);
    return;

failed:

    w->err = errno;
}


/* the body's buffers, in memory or in the request's temporary file */

static ngx_int_t
ngx_http_smile_webhook_spool_write_body(int fd,
    ngx_http_smile_webhook_spool_write_t *w)
{
    off_t         off;
    size_t        n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;
    u_char        chunk[NGX_HTTP_SMILE_SPOOL_CHUNK];

    for (cl = w->body; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            if (ngx_buf_in_memory(b)
                && ngx_http_smile_webhook_write_all(fd, b->pos,
                                                    b->last - b->pos)
                   != NGX_OK)
            {
                w->op = "write()";
                return NGX_ERROR;
            }

            continue;
        }

        for (off = b->file_pos; off < b->file_last; off += n) {
            n = (size_t) ngx_min(b->file_last - off, (off_t) sizeof(chunk));

            if (pread(b->file->fd, chunk, n, off) != (ssize_t) n) {
                w->op = "pread() of the request body";
                return NGX_ERROR;
            }

            if (ngx_http_smile_webhook_write_all(fd, chunk, n) != NGX_OK) {
                w->op = "write()";
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_write_all(int fd, u_char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        n = write(fd, p, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return NGX_ERROR;
        }

        p += n;
        len -= n;
    }

    return NGX_OK;
}


/* a write that takes this long: said once an hour while it goes on */

static void
ngx_http_smile_webhook_spool_hold(ngx_event_t *ev)
{
    ngx_http_smile_webhook_spool_write_t *w = ev->data;

    ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                  "smile webhook: the spool write of \"%s\" has not ended "
                  "in an hour", w->temp);

    ngx_add_timer(ev, NGX_HTTP_SMILE_SPOOL_HOLD);
}


/* back in the worker's event loop: the answer to the client */

#if (NGX_THREADS)

static void
ngx_http_smile_webhook_spool_written(ngx_event_t *ev)
{
    ngx_thread_task_t  *task = ev->data;

    ngx_http_smile_webhook_spool_done(task->ctx);
}

#endif


static void
ngx_http_smile_webhook_spool_done(ngx_http_smile_webhook_spool_write_t *w)
{
    ngx_uint_t                             status;
    ngx_connection_t                      *c;
    ngx_http_request_t                    *r;
    ngx_http_smile_webhook_ctx_t          *ctx;
    ngx_http_smile_webhook_spool_t        *spool;

    r = w->request;
    c = r->connection;
    spool = w->spool;

    if (w->hold.timer_set) {
        ngx_del_timer(&w->hold);
    }

    r->main->blocked--;

    ctx = ngx_http_smile_webhook_get_ctx(r);
    ctx->spooling = 0;

    status = r->headers_out.status;

    if (w->err == 0 && w->op == NULL) {
        ctx->result = NGX_HTTP_SMILE_WEBHOOK_SPOOLED;
        (void) ngx_atomic_fetch_add(&spool->sh->stats.spooled, 1);

        if (!w->shared) {
            /* in the directory now (a record in Redis takes no room here) */
            (void) ngx_atomic_fetch_add(&spool->sh->stats.bytes, w->size);
        }

        (void) ngx_atomic_fetch_add(&spool->sh->reserved, -w->size);

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "smile webhook: the app answered %ui, event id \"%s\" "
                      "is spooled in %s\"%V\"", status, ctx->event.id.data,
                      w->shared ? "redis, for " : "", &spool->path);

    } else {
        (void) ngx_atomic_fetch_add(&spool->sh->reserved, -w->size);
        (void) ngx_atomic_fetch_add(&spool->sh->stats.failed, 1);

        ngx_log_error(NGX_LOG_WARN, c->log, w->err,
                      "smile webhook: event id \"%s\" is not spooled, %s "
                      "failed in \"%V\"; the app's %ui goes to the client",
                      ctx->event.id.data, w->op, &spool->path, status);
    }

    if (c->error) {
        /* the client went away meanwhile */
        ngx_http_finalize_request(r, NGX_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    if (ctx->result == NGX_HTTP_SMILE_WEBHOOK_SPOOLED) {
        status = NGX_HTTP_ACCEPTED;
        ngx_http_smile_webhook_recount(r, NGX_HTTP_SMILE_WEBHOOK_OK,
                                       NGX_HTTP_SMILE_WEBHOOK_SPOOLED);
    }

    ngx_http_finalize_request(r,
                          ngx_http_smile_webhook_spool_answer(r, ctx, status));

    ngx_http_run_posted_requests(c);
}


/*
 * The answer instead of the app's: 202 and no body once spooled, or the
 * app's status with no body.  It goes through the header filters again,
 * where dedupe settles the id.
 */

static ngx_int_t
ngx_http_smile_webhook_spool_answer(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_uint_t status)
{
    ngx_int_t  rc;

    r->err_status = 0;

    ngx_memzero(&r->headers_out.status,
                sizeof(ngx_http_headers_out_t)
                    - offsetof(ngx_http_headers_out_t, status));

    r->headers_out.headers.part.nelts = 0;
    r->headers_out.headers.part.next = NULL;
    r->headers_out.headers.last = &r->headers_out.headers.part;

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->headers_out.last_modified_time = -1;

    ctx->answering = 1;

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        rc = ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    ctx->answering = 0;

    return rc;
}


ngx_int_t
ngx_http_smile_webhook_spool_init(ngx_conf_t *cf,
    ngx_http_smile_webhook_main_conf_t *swmcf)
{
    ngx_uint_t                        i, j;
    ngx_http_smile_webhook_spool_t  **sp;

    if (swmcf->spools == NULL) {
        return NGX_OK;
    }

    /* on Redis, each spool replays what it spooled, from its own stream */

    sp = swmcf->spools->elts;

    for (i = 0; swmcf->redis && i < swmcf->spools->nelts; i++) {
        for (j = 0; j < i; j++) {

            if (sp[i]->stream.len != sp[j]->stream.len
                || ngx_strncmp(sp[i]->stream.data, sp[j]->stream.data,
                               sp[i]->stream.len) != 0)
            {
                continue;
            }

            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "spools \"%V\" (%s:%ui) and \"%V\" (%s:%ui) share "
                          "the Redis stream \"%V\"; give one of them "
                          "stream=NAME in \"smile_webhook_spool\" directive",
                          &sp[j]->path, sp[j]->file, sp[j]->line,
                          &sp[i]->path, sp[i]->file, sp[i]->line,
                          &sp[i]->stream);
            return NGX_ERROR;
        }
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_smile_webhook_spool_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_smile_webhook_spool_body_filter;

    return NGX_OK;
}
