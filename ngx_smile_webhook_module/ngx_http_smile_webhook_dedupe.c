
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * Event id de-duplication in shared memory, across every worker.
 *
 * An authentic event's id is entered "in flight" before the request goes
 * upstream, owned by the worker that forwards it.  When that request ends
 * the id becomes "delivered" if the last upstream answer was 2xx, and is
 * removed otherwise, so that Smile's retry goes through.  The request ends,
 * for this purpose, when its response header goes out (the status is known
 * then, and the client may close the connection right after it), or when
 * its pool goes without a response (a client that gave up).
 *
 * Ids are found through a hash table of chained entries, sized from the
 * zone at its creation: one or two cache misses per lookup, where a tree
 * of a full zone would take one per level.  Delivered ids
 * are kept for the zone's ttl, newest first in a queue; the oldest are
 * evicted when the zone is full.  An in-flight id whose worker has died
 * is taken over by the next delivery of it.
 */


#include "ngx_http_smile_webhook_module.h"

#include <hiredis/hiredis.h>


#define NGX_HTTP_SMILE_DEDUPE_IN_FLIGHT   1
#define NGX_HTTP_SMILE_DEDUPE_DELIVERED   2
#define NGX_HTTP_SMILE_DEDUPE_SPOOLED     3

/* the layout of the shared table; a zone of an older one is not reused */
#define NGX_HTTP_SMILE_DEDUPE_MAGIC       0x534d494c45444432ULL

/* expired entries dropped per lookup, evictions tried per new entry */
#define NGX_HTTP_SMILE_DEDUPE_EXPIRE      16
#define NGX_HTTP_SMILE_DEDUPE_EVICT       64

#define NGX_HTTP_SMILE_DEDUPE_TTL         86400

/*
 * How long a claim in Redis holds an id in flight: longer than a delivery
 * takes, short enough that Smile's retry is not refused for long when the
 * node that claimed it died meanwhile.
 */
#define NGX_HTTP_SMILE_DEDUPE_CLAIM       30000


typedef struct ngx_http_smile_webhook_dedupe_node_s
    ngx_http_smile_webhook_dedupe_node_t;

struct ngx_http_smile_webhook_dedupe_node_s {
    ngx_http_smile_webhook_dedupe_node_t  *next;    /* in the bucket */
    ngx_queue_t                         queue;
    time_t                              expire;     /* delivered and
                                                       spooled; in flight:
                                                       the owner's start
                                                       time */
    uint32_t                            hash;       /* crc32 of the id */
    ngx_pid_t                           pid;        /* in flight only */
    u_char                              state;
    u_char                              len;
    u_char                              id[1];
};


typedef struct {
    uint64_t                            magic;
    ngx_http_smile_webhook_dedupe_node_t  **buckets;
    ngx_uint_t                          mask;       /* buckets - 1 */
    ngx_queue_t                         delivered;  /* newest first */
    ngx_queue_t                         in_flight;
    ngx_queue_t                         spooled;    /* newest first */
    ngx_uint_t                          ndelivered;
    ngx_uint_t                          nin_flight;
    ngx_uint_t                          nspooled;
    uint64_t                            evictions;
    uint64_t                            overflows;
} ngx_http_smile_webhook_dedupe_sh_t;


typedef struct {
    ngx_http_smile_webhook_dedupe_sh_t  *sh;
    ngx_slab_pool_t                     *shpool;
    time_t                               ttl;
} ngx_http_smile_webhook_dedupe_t;


typedef struct {
    ngx_shm_zone_t                      *zone;
    u_char                              *file;
    ngx_uint_t                           line;
} ngx_http_smile_webhook_dedupe_ref_t;


static ngx_int_t ngx_http_smile_webhook_zone_spec(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *spec, ngx_str_t *name, ssize_t *size);
static ngx_int_t ngx_http_smile_webhook_dedupe_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static void ngx_http_smile_webhook_dedupe_unlink(
    ngx_http_smile_webhook_dedupe_t *dd,
    ngx_http_smile_webhook_dedupe_node_t *dn);
static ngx_http_smile_webhook_dedupe_node_t *
    ngx_http_smile_webhook_dedupe_lookup(ngx_http_smile_webhook_dedupe_t *dd,
    uint32_t hash, u_char *id, size_t len);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_dedupe_local(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_dedupe_claim(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_dedupe_key(ngx_pool_t *pool,
    ngx_http_smile_webhook_redis_conf_t *rcf, smile_field_t *id,
    ngx_str_t *key);
static void ngx_http_smile_webhook_dedupe_claimed(void *data, void *rp);
static void ngx_http_smile_webhook_dedupe_uncalled(void *data);
static void ngx_http_smile_webhook_dedupe_unclaim(
    ngx_http_smile_webhook_ctx_t *ctx, ngx_uint_t state);
static void ngx_http_smile_webhook_dedupe_settle(
    ngx_http_smile_webhook_ctx_t *ctx, ngx_uint_t state);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_dedupe_found(
    ngx_http_smile_webhook_dedupe_t *dd,
    ngx_http_smile_webhook_dedupe_node_t *dn,
    ngx_http_smile_webhook_ctx_t *ctx, time_t now, ngx_pid_t *dead);
static ngx_http_smile_webhook_dedupe_node_t *
    ngx_http_smile_webhook_dedupe_insert(ngx_http_smile_webhook_dedupe_t *dd,
    uint32_t hash, smile_field_t *id);
static void ngx_http_smile_webhook_dedupe_cleanup(void *data);
static void ngx_http_smile_webhook_dedupe_expire(
    ngx_http_smile_webhook_dedupe_t *dd, time_t now);
static void ngx_http_smile_webhook_dedupe_delete(
    ngx_http_smile_webhook_dedupe_t *dd,
    ngx_http_smile_webhook_dedupe_node_t *dn);
static ngx_int_t ngx_http_smile_webhook_dedupe_alive(ngx_pid_t pid,
    time_t start);
static time_t ngx_http_smile_webhook_start_time(ngx_pid_t pid);
static time_t ngx_http_smile_webhook_own_start_time(void);
static ngx_int_t ngx_http_smile_webhook_delivered(ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_header_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


/* smile_webhook_dedupe_zone NAME:SIZE [ttl=TIME] */

char *
ngx_http_smile_webhook_dedupe_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smile_webhook_main_conf_t *swmcf = conf;

    time_t                            ttl;
    ssize_t                           size;
    ngx_str_t                        *value, name, s;
    ngx_shm_zone_t                   *shm_zone, **zp;
    ngx_http_smile_webhook_dedupe_t  *dd;

    value = cf->args->elts;

    if (ngx_http_smile_webhook_zone_spec(cf, cmd, &value[1], &name, &size)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ttl = NGX_HTTP_SMILE_DEDUPE_TTL;

    if (cf->args->nelts == 3) {

        if (ngx_strncmp(value[2].data, "ttl=", 4) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" directive",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 4;
        s.len = value[2].len - 4;

        ttl = ngx_parse_time(&s, 1);

        if (ttl == (time_t) NGX_ERROR || ttl == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid ttl \"%V\" in \"%V\" directive, "
                               "it must be a time of at least one second",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_smile_webhook_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\" in \"%V\" directive",
                           &name, &cmd->name);
        return NGX_CONF_ERROR;
    }

    dd = ngx_pcalloc(cf->pool, sizeof(ngx_http_smile_webhook_dedupe_t));
    if (dd == NULL) {
        return NGX_CONF_ERROR;
    }

    dd->ttl = ttl;

    shm_zone->init = ngx_http_smile_webhook_dedupe_init_zone;
    shm_zone->data = dd;

    if (swmcf->dedupe_zones == NULL) {
        swmcf->dedupe_zones = ngx_array_create(cf->pool, 2,
                                               sizeof(ngx_shm_zone_t *));
        if (swmcf->dedupe_zones == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    zp = ngx_array_push(swmcf->dedupe_zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = shm_zone;

    return NGX_CONF_OK;
}


/* NAME:SIZE, the name plain enough to be a Prometheus label value */

static ngx_int_t
ngx_http_smile_webhook_zone_spec(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *spec, ngx_str_t *name, ssize_t *size)
{
    u_char     *p;
    ngx_str_t   s;

    p = (u_char *) ngx_strchr(spec->data, ':');

    if (p == NULL || p == spec->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\" in \"%V\" directive, "
                           "it must be NAME:SIZE", spec, &cmd->name);
        return NGX_ERROR;
    }

    name->data = spec->data;
    name->len = p - spec->data;

    for (p = name->data; p < name->data + name->len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
              || *p == '.'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid zone name \"%V\" in \"%V\" "
                               "directive, it must be letters, digits, "
                               "\"_\", \"-\" and \".\"", name, &cmd->name);
            return NGX_ERROR;
        }
    }

    s.data = p + 1;
    s.len = spec->data + spec->len - s.data;

    *size = ngx_parse_size(&s);

    if (*size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\" directive",
                           spec, &cmd->name);
        return NGX_ERROR;
    }

    if (*size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small in \"%V\" directive, "
                           "it must be at least %uzk",
                           spec, &cmd->name, 8 * ngx_pagesize / 1024);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* smile_webhook_dedupe ZONE | off */

char *
ngx_http_smile_webhook_dedupe(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    ngx_str_t                            *value;
    ngx_http_smile_webhook_main_conf_t   *swmcf;
    ngx_http_smile_webhook_dedupe_ref_t  *ref;

    if (swlcf->dedupe != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        swlcf->dedupe = NULL;
        return NGX_CONF_OK;
    }

    swlcf->dedupe = ngx_shared_memory_add(cf, &value[1], 0,
                                          &ngx_http_smile_webhook_module);
    if (swlcf->dedupe == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the zone may be defined further down; checked after the http block */

    swmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_smile_webhook_module);

    if (swmcf->dedupe_refs == NULL) {
        swmcf->dedupe_refs = ngx_array_create(cf->pool, 2,
                                 sizeof(ngx_http_smile_webhook_dedupe_ref_t));
        if (swmcf->dedupe_refs == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ref = ngx_array_push(swmcf->dedupe_refs);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->zone = swlcf->dedupe;
    ref->file = cf->conf_file->file.name.data;
    ref->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * Checks that every zone named by smile_webhook_dedupe is defined, and
 * installs the header filter that settles ids, only when one is used.
 */

ngx_int_t
ngx_http_smile_webhook_dedupe_init(ngx_conf_t *cf,
    ngx_http_smile_webhook_main_conf_t *swmcf)
{
    ngx_uint_t                            i;
    ngx_http_smile_webhook_dedupe_ref_t  *ref;

    if (swmcf->dedupe_refs == NULL) {
        return NGX_OK;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_smile_webhook_header_filter;

    ref = swmcf->dedupe_refs->elts;

    for (i = 0; i < swmcf->dedupe_refs->nelts; i++) {
        if (ref[i].zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown zone \"%V\" in \"smile_webhook_dedupe\" "
                          "directive in %s:%ui, it must be defined by "
                          "\"smile_webhook_dedupe_zone\"",
                          &ref[i].zone->shm.name, ref[i].file, ref[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_dedupe_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_smile_webhook_dedupe_t  *odd = data;

    size_t                            len;
    ngx_uint_t                        n;
    ngx_http_smile_webhook_dedupe_t  *dd;

    dd = shm_zone->data;

    dd->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (odd || shm_zone->shm.exists) {

        /* a reload: the table lives on, the new ttl applies from now */

        dd->sh = dd->shpool->data;

        if (dd->sh->magic != NGX_HTTP_SMILE_DEDUPE_MAGIC) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "smile_webhook_dedupe_zone \"%V\" was made by "
                          "another version of the module: restart nginx, "
                          "or give the zone another name or size",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    dd->sh = ngx_slab_alloc(dd->shpool,
                            sizeof(ngx_http_smile_webhook_dedupe_sh_t));
    if (dd->sh == NULL) {
        return NGX_ERROR;
    }

    dd->shpool->data = dd->sh;

    /* a bucket per two entries of 128 bytes, a power of two */

    n = 16;

    while (n * 2 <= shm_zone->shm.size / 256) {
        n *= 2;
    }

    dd->sh->buckets = ngx_slab_calloc(dd->shpool,
                          n * sizeof(ngx_http_smile_webhook_dedupe_node_t *));
    if (dd->sh->buckets == NULL) {
        return NGX_ERROR;
    }

    dd->sh->mask = n - 1;

    ngx_queue_init(&dd->sh->delivered);
    ngx_queue_init(&dd->sh->in_flight);
    ngx_queue_init(&dd->sh->spooled);

    dd->sh->magic = NGX_HTTP_SMILE_DEDUPE_MAGIC;
    dd->sh->ndelivered = 0;
    dd->sh->nin_flight = 0;
    dd->sh->nspooled = 0;
    dd->sh->evictions = 0;
    dd->sh->overflows = 0;

    len = sizeof(" in smile_webhook_dedupe_zone \"\"") + shm_zone->shm.name.len;

    dd->shpool->log_ctx = ngx_slab_alloc(dd->shpool, len);
    if (dd->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(dd->shpool->log_ctx, " in smile_webhook_dedupe_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is expected and handled: evictions, then no dedupe */

    dd->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_smile_webhook_dedupe_node_t *
ngx_http_smile_webhook_dedupe_lookup(ngx_http_smile_webhook_dedupe_t *dd,
    uint32_t hash, u_char *id, size_t len)
{
    ngx_http_smile_webhook_dedupe_node_t  *dn;

    for (dn = dd->sh->buckets[hash & dd->sh->mask]; dn; dn = dn->next) {
        if (dn->hash == hash
            && dn->len == len
            && ngx_memcmp(dn->id, id, len) == 0)
        {
            return dn;
        }
    }

    return NULL;
}


static void
ngx_http_smile_webhook_dedupe_unlink(ngx_http_smile_webhook_dedupe_t *dd,
    ngx_http_smile_webhook_dedupe_node_t *dn)
{
    ngx_http_smile_webhook_dedupe_node_t  **pp;

    for (pp = &dd->sh->buckets[dn->hash & dd->sh->mask];
         *pp != dn;
         pp = &(*pp)->next)
    {
        /* void */
    }

    *pp = dn->next;
}


/*
 * Decides what happens to an authentic event: NGX_HTTP_SMILE_WEBHOOK_OK to
 * forward it (ctx->dedupe is set when this request holds the id), or
 * DUPLICATE, SPOOLED or IN_FLIGHT; or NONE while Redis is asked, whose
 * reply resumes the request (ctx->resume).  The zone is asked first: an id
 * it knows delivered is answered without a round trip.
 */

ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_dedupe_acquire(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_http_smile_webhook_result_e  result;

    result = ngx_http_smile_webhook_dedupe_local(r, ctx);

    if (result != NGX_HTTP_SMILE_WEBHOOK_OK
        || ctx->dedupe == NULL
        || r != r->main
        || ctx->resume == NULL
        || ngx_http_smile_webhook_redis_conf() == NULL)
    {
        return result;
    }

    return ngx_http_smile_webhook_dedupe_claim(r, ctx);
}


/*
 * The id claimed in Redis, for all nodes: one script, atomic, that sets
 * PREFIX{ID} to our owner string (for NGX_HTTP_SMILE_DEDUPE_CLAIM ms) when
 * the key is absent, or, for a replay, "spooled"; and answers "OK" or what
 * the key holds: "delivered", "spooled" or another node's owner string.
 */

static const char  ngx_http_smile_webhook_claim_lua[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if (not v) or (ARGV[3] == '1' and v == 'spooled') then "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return 'OK' end "
    "return v";

/* settled by its owner only: "delivered", "spooled", or removed ("") */

static const char  ngx_http_smile_webhook_settle_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
    "if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end "
    "return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])";


static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_dedupe_claim(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    u_char                               *p;
    ngx_str_t                             key;
    ngx_pool_cleanup_t                   *cln;
    ngx_http_smile_webhook_redis_conf_t  *rcf;
    const char                           *argv[7];
    size_t                                argvlen[7];
    u_char                                ms[NGX_INT_T_LEN];

    rcf = ngx_http_smile_webhook_redis_conf();

    if (!ngx_http_smile_webhook_redis_up()) {
        ngx_http_smile_webhook_redis_fallback(
                                        NGX_HTTP_SMILE_REDIS_FALLBACK_DEDUPE);
        return NGX_HTTP_SMILE_WEBHOOK_OK;
    }

    /*
     * the key is kept: the claim may be settled from the request pool's
     * cleanup, when r->pool is NULL already
     */

    if (ngx_http_smile_webhook_dedupe_key(r->pool, rcf, &ctx->event.id,
                                          &ctx->redis_key)
        != NGX_OK)
    {
        return NGX_HTTP_SMILE_WEBHOOK_OK;
    }

    key = ctx->redis_key;

    /* HOST:PID:N, unique to this claim */

    ctx->redis_owner.data = ngx_pnalloc(r->pool, ngx_cycle->hostname.len
                                                 + 2 * NGX_INT_T_LEN + 2);
    if (ctx->redis_owner.data == NULL) {
        return NGX_HTTP_SMILE_WEBHOOK_OK;
    }

    ctx->redis_owner.len = ngx_sprintf(ctx->redis_owner.data, "%V:%P:%ui",
                                       &ngx_cycle->hostname, ngx_pid,
                                       (ngx_uint_t) ngx_random())
                           - ctx->redis_owner.data;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_SMILE_WEBHOOK_OK;
    }

    p = ngx_sprintf(ms, "%M", (ngx_msec_t) NGX_HTTP_SMILE_DEDUPE_CLAIM);

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = ngx_http_smile_webhook_claim_lua;
    argvlen[1] = sizeof(ngx_http_smile_webhook_claim_lua) - 1;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (const char *) key.data;
    argvlen[3] = key.len;
    argv[4] = (const char *) ctx->redis_owner.data;
    argvlen[4] = ctx->redis_owner.len;
    argv[5] = (const char *) ms;
    argvlen[5] = p - ms;

    /* ARGV[3]: a replay may take a spooled id */

    argv[6] = ctx->attempt ? "1" : "0";
    argvlen[6] = 1;

    if (ngx_http_smile_webhook_redis_command(
            ngx_http_smile_webhook_dedupe_claimed, ctx, 7, argv, argvlen,
            &ctx->redis_cmd)
        != NGX_OK)
    {
        ngx_http_smile_webhook_redis_fallback(
                                        NGX_HTTP_SMILE_REDIS_FALLBACK_DEDUPE);
        ngx_str_null(&ctx->redis_owner);
        return NGX_HTTP_SMILE_WEBHOOK_OK;
    }

    cln->handler = ngx_http_smile_webhook_dedupe_uncalled;
    cln->data = ctx;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: event id \"%s\" claimed in redis",
                   ctx->event.id.data);

    return NGX_HTTP_SMILE_WEBHOOK_NONE;
}


/* PREFIX{ID}: the id is the hash tag, so Redis Cluster keeps it on a slot */

static ngx_int_t
ngx_http_smile_webhook_dedupe_key(ngx_pool_t *pool,
    ngx_http_smile_webhook_redis_conf_t *rcf, smile_field_t *id,
    ngx_str_t *key)
{
    key->data = ngx_pnalloc(pool, rcf->prefix.len + id->len + 2);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->len = ngx_sprintf(key->data, "%V{%*s}", &rcf->prefix,
                           id->len, id->data)
               - key->data;

    return NGX_OK;
}


/* the claim's answer; the request goes on with it */

static void
ngx_http_smile_webhook_dedupe_claimed(void *data, void *rp)
{
    ngx_http_smile_webhook_ctx_t *ctx = data;

    redisReply                       *reply = rp;
    ngx_http_smile_webhook_result_e   result;

    ctx->redis_cmd = NULL;
    result = NGX_HTTP_SMILE_WEBHOOK_OK;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        /* no answer: this node decides alone */
        ngx_str_null(&ctx->redis_owner);
        ngx_http_smile_webhook_redis_fallback(
                                        NGX_HTTP_SMILE_REDIS_FALLBACK_DEDUPE);

    } else if ((reply->type == REDIS_REPLY_STATUS
                || reply->type == REDIS_REPLY_STRING)
               && reply->len == 2 && ngx_strncmp(reply->str, "OK", 2) == 0)
    {
        /* ours, on every node */

    } else {
        ngx_str_null(&ctx->redis_owner);

        if (reply->type == REDIS_REPLY_STRING
            && reply->len == 9
            && ngx_strncmp(reply->str, "delivered", 9) == 0)
        {
            result = NGX_HTTP_SMILE_WEBHOOK_DUPLICATE;

        } else if (reply->type == REDIS_REPLY_STRING
                   && reply->len == 7
                   && ngx_strncmp(reply->str, "spooled", 7) == 0)
        {
            result = NGX_HTTP_SMILE_WEBHOOK_SPOOLED;

        } else {
            result = NGX_HTTP_SMILE_WEBHOOK_IN_FLIGHT;
        }

        /* the zone's entry follows: delivered is kept, as a cache */

        ngx_http_smile_webhook_dedupe_settle(ctx,
            result == NGX_HTTP_SMILE_WEBHOOK_DUPLICATE
            ? NGX_HTTP_SMILE_DEDUPE_DELIVERED : 0);
    }

    ctx->resume(ctx->request, result);
}


static void
ngx_http_smile_webhook_dedupe_uncalled(void *data)
{
    ngx_http_smile_webhook_ctx_t *ctx = data;

    if (ctx->redis_cmd) {
        ngx_http_smile_webhook_redis_cancel(ctx->redis_cmd);
        ctx->redis_cmd = NULL;
    }
}


/* the claim settled in Redis, when this request ends; not waited for */

static void
ngx_http_smile_webhook_dedupe_unclaim(ngx_http_smile_webhook_ctx_t *ctx,
    ngx_uint_t state)
{
    u_char                               *p;
    ngx_str_t                             key, value;
    ngx_msec_t                            px;
    ngx_http_smile_webhook_redis_conf_t  *rcf;
    const char                           *argv[7];
    size_t                                argvlen[7];
    u_char                                ms[NGX_INT_T_LEN];

    rcf = ngx_http_smile_webhook_redis_conf();

    if (rcf == NULL || ctx->redis_owner.len == 0) {
        return;
    }

    key = ctx->redis_key;

    switch (state) {

    case NGX_HTTP_SMILE_DEDUPE_DELIVERED:
        ngx_str_set(&value, "delivered");
        px = (ngx_msec_t) ((ngx_http_smile_webhook_dedupe_t *)
                           ctx->dedupe->data)->ttl * 1000;
        break;

    case NGX_HTTP_SMILE_DEDUPE_SPOOLED:
        ngx_str_set(&value, "spooled");
        px = (ngx_msec_t) ctx->conf->spool->keep * 1000;
        break;

    default:
        ngx_str_null(&value);
        px = 0;
        break;
    }

    p = ngx_sprintf(ms, "%M", px);

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = ngx_http_smile_webhook_settle_lua;
    argvlen[1] = sizeof(ngx_http_smile_webhook_settle_lua) - 1;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (const char *) key.data;
    argvlen[3] = key.len;
    argv[4] = (const char *) ctx->redis_owner.data;
    argvlen[4] = ctx->redis_owner.len;
    argv[5] = (const char *) value.data;
    argvlen[5] = value.len;
    argv[6] = (const char *) ms;
    argvlen[6] = p - ms;

    (void) ngx_http_smile_webhook_redis_command(NULL, NULL, 7, argv, argvlen,
                                                NULL);

    ngx_str_null(&ctx->redis_owner);
}

static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_dedupe_local(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    time_t                                 now, start;
    uint32_t                               hash;
    ngx_pid_t                              dead;
    ngx_http_smile_webhook_result_e        result;
    smile_field_t                         *id;
    ngx_shm_zone_t                        *zone;
    ngx_pool_cleanup_t                    *cln;
    ngx_http_smile_webhook_dedupe_t       *dd;
    ngx_http_smile_webhook_dedupe_node_t  *dn;

    zone = ctx->conf->dedupe;
    dd = zone->data;
    id = &ctx->event.id;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ctx->failed = 1;
        return NGX_HTTP_SMILE_WEBHOOK_OK;
    }

    hash = ngx_crc32_short(id->data, id->len);
    now = ngx_time();
    start = ngx_http_smile_webhook_own_start_time();
    dead = 0;

    ngx_shmtx_lock(&dd->shpool->mutex);

    ngx_http_smile_webhook_dedupe_expire(dd, now);

    dn = ngx_http_smile_webhook_dedupe_lookup(dd, hash, id->data, id->len);

    if (dn == NULL) {
        dn = ngx_http_smile_webhook_dedupe_insert(dd, hash, id);

        if (dn == NULL) {
            dd->sh->overflows++;
            ngx_shmtx_unlock(&dd->shpool->mutex);

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "smile webhook dedupe zone \"%V\" is full, "
                          "event id \"%s\" is forwarded without dedupe",
                          &zone->shm.name, id->data);

            return NGX_HTTP_SMILE_WEBHOOK_OK;
        }

    } else {
        result = ngx_http_smile_webhook_dedupe_found(dd, dn, ctx, now, &dead);

        if (result != NGX_HTTP_SMILE_WEBHOOK_OK) {
            ngx_shmtx_unlock(&dd->shpool->mutex);
            return result;
        }
    }

    dn->state = NGX_HTTP_SMILE_DEDUPE_IN_FLIGHT;
    dn->pid = ngx_pid;
    dn->expire = start;

    ngx_queue_insert_head(&dd->sh->in_flight, &dn->queue);
    dd->sh->nin_flight++;

    ngx_shmtx_unlock(&dd->shpool->mutex);

    if (dead) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "smile webhook event id \"%s\" was in flight in "
                      "process %P, which has exited; delivering it again",
                      id->data, dead);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: event id \"%s\" in flight", id->data);

    ctx->dedupe = zone;
    ctx->dedupe_node = dn;

    /* a request that ends without a response header still lets the id go */

    cln->handler = ngx_http_smile_webhook_dedupe_cleanup;
    cln->data = ctx;

    return NGX_HTTP_SMILE_WEBHOOK_OK;
}


/*
 * An entry of the id is there: the answer it gives (DUPLICATE, SPOOLED,
 * IN_FLIGHT), or OK when this request takes the id, out of its queue:
 * an expired entry, a spooled one for a replay, one whose owner died.
 * Called with the zone locked.
 */

static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_dedupe_found(ngx_http_smile_webhook_dedupe_t *dd,
    ngx_http_smile_webhook_dedupe_node_t *dn,
    ngx_http_smile_webhook_ctx_t *ctx, time_t now, ngx_pid_t *dead)
{
    switch (dn->state) {

    case NGX_HTTP_SMILE_DEDUPE_DELIVERED:

        if (dn->expire > now) {
            return NGX_HTTP_SMILE_WEBHOOK_DUPLICATE;
        }

        dd->sh->ndelivered--;
        break;

    case NGX_HTTP_SMILE_DEDUPE_SPOOLED:

        /* a replay takes its id; Smile's retry of it is answered 202 */

        if (dn->expire > now && !ctx->attempt) {
            return NGX_HTTP_SMILE_WEBHOOK_SPOOLED;
        }

        dd->sh->nspooled--;
        break;

    default: /* NGX_HTTP_SMILE_DEDUPE_IN_FLIGHT */

        if (ngx_http_smile_webhook_dedupe_alive(dn->pid, dn->expire)) {
            return NGX_HTTP_SMILE_WEBHOOK_IN_FLIGHT;
        }

        *dead = dn->pid;
        dd->sh->nin_flight--;
        break;
    }

    ngx_queue_remove(&dn->queue);

    return NGX_HTTP_SMILE_WEBHOOK_OK;
}


/*
 * A new in-flight entry for the id, making room by evicting the oldest
 * delivered ids, a bounded number of them; NULL when no room was made.
 * Called with the zone locked.
 */

static ngx_http_smile_webhook_dedupe_node_t *
ngx_http_smile_webhook_dedupe_insert(ngx_http_smile_webhook_dedupe_t *dd,
    uint32_t hash, smile_field_t *id)
{
    size_t                                 n;
    ngx_uint_t                             evicted;
    ngx_http_smile_webhook_dedupe_node_t  *dn;

    n = offsetof(ngx_http_smile_webhook_dedupe_node_t, id) + id->len;

    for (evicted = 0; /* void */; evicted++) {
        dn = ngx_slab_alloc_locked(dd->shpool, n);

        if (dn
            || ngx_queue_empty(&dd->sh->delivered)
            || evicted == NGX_HTTP_SMILE_DEDUPE_EVICT)
        {
            break;
        }

        ngx_http_smile_webhook_dedupe_delete(dd,
            ngx_queue_data(ngx_queue_last(&dd->sh->delivered),
                           ngx_http_smile_webhook_dedupe_node_t, queue));
        dd->sh->evictions++;
    }

    if (dn == NULL) {
        return NULL;
    }

    dn->hash = hash;
    dn->len = (u_char) id->len;
    ngx_memcpy(dn->id, id->data, id->len);

    dn->next = dd->sh->buckets[hash & dd->sh->mask];
    dd->sh->buckets[hash & dd->sh->mask] = dn;

    return dn;
}


/*
 * At the end of the request that holds the id.  Its node cannot have gone:
 * an id in flight is removed only by the worker that holds it, or by
 * another one once that worker has exited.  The id is compared anyway.
 */

void
ngx_http_smile_webhook_dedupe_release(ngx_http_smile_webhook_ctx_t *ctx,
    ngx_http_request_t *r)
{
    ngx_uint_t  state;

    if (ctx->dedupe == NULL) {
        return;
    }

    if (ngx_http_smile_webhook_delivered(r)) {
        state = NGX_HTTP_SMILE_DEDUPE_DELIVERED;

    } else if (ctx->result == NGX_HTTP_SMILE_WEBHOOK_SPOOLED
               || ctx->attempt)
    {
        /* in the spool: the replayer delivers it, nobody else */
        state = NGX_HTTP_SMILE_DEDUPE_SPOOLED;

    } else {
        state = 0;
    }

    ngx_http_smile_webhook_dedupe_unclaim(ctx, state);
    ngx_http_smile_webhook_dedupe_settle(ctx, state);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: event id \"%s\" %s", ctx->event.id.data,
                   state == NGX_HTTP_SMILE_DEDUPE_DELIVERED ? "delivered"
                   : state ? "spooled" : "released");
}


/*
 * The zone's in-flight entry of this request becomes delivered, spooled,
 * or (state 0) goes.  Its node cannot have gone: an id in flight is removed
 * only by the worker that holds it, or by another one once that worker has
 * exited.  The id is compared anyway.
 */

static void
ngx_http_smile_webhook_dedupe_settle(ngx_http_smile_webhook_ctx_t *ctx,
    ngx_uint_t state)
{
    smile_field_t                         *id;
    ngx_http_smile_webhook_dedupe_t       *dd;
    ngx_http_smile_webhook_dedupe_node_t  *dn;

    if (ctx->dedupe == NULL) {
        return;
    }

    dd = ctx->dedupe->data;
    ctx->dedupe = NULL;

    id = &ctx->event.id;
    dn = ctx->dedupe_node;

    ngx_shmtx_lock(&dd->shpool->mutex);

    if (dn->state == NGX_HTTP_SMILE_DEDUPE_IN_FLIGHT
        && dn->pid == ngx_pid
        && dn->len == id->len
        && ngx_memcmp(dn->id, id->data, id->len) == 0)
    {
        ngx_queue_remove(&dn->queue);
        dd->sh->nin_flight--;

        dn->state = (u_char) state;
        dn->pid = 0;

        switch (state) {

        case NGX_HTTP_SMILE_DEDUPE_DELIVERED:
            dn->expire = ngx_time() + dd->ttl;
            ngx_queue_insert_head(&dd->sh->delivered, &dn->queue);
            dd->sh->ndelivered++;
            break;

        case NGX_HTTP_SMILE_DEDUPE_SPOOLED:
            dn->expire = ngx_time() + ctx->conf->spool->keep;
            ngx_queue_insert_head(&dd->sh->spooled, &dn->queue);
            dd->sh->nspooled++;
            break;

        default:
            ngx_http_smile_webhook_dedupe_unlink(dd, dn);
            ngx_slab_free_locked(dd->shpool, dn);
            break;
        }
    }

    ngx_shmtx_unlock(&dd->shpool->mutex);
}


static void
ngx_http_smile_webhook_dedupe_cleanup(void *data)
{
    ngx_http_smile_webhook_ctx_t *ctx = data;

    /* the request is still whole: only its pool is being destroyed */

    ngx_http_smile_webhook_dedupe_release(ctx, ctx->request);
}


static ngx_int_t
ngx_http_smile_webhook_header_filter(ngx_http_request_t *r)
{
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_smile_webhook_get_ctx(r);

    if (ctx && ctx->dedupe) {
        ngx_http_smile_webhook_dedupe_release(ctx, r);
    }

    return ngx_http_next_header_filter(r);
}


/* the last upstream answer of the request was 2xx */

static ngx_int_t
ngx_http_smile_webhook_delivered(ngx_http_request_t *r)
{
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return 0;
    }

    state = r->upstream_states->elts;
    state += r->upstream_states->nelts - 1;

    return state->status >= NGX_HTTP_OK
           && state->status < NGX_HTTP_SPECIAL_RESPONSE;
}


/* drops ids whose ttl or keep has ended, oldest first, a few per call */

static void
ngx_http_smile_webhook_dedupe_expire(ngx_http_smile_webhook_dedupe_t *dd,
    time_t now)
{
    ngx_uint_t                             n;
    ngx_queue_t                           *q, *queue;
    ngx_http_smile_webhook_dedupe_node_t  *dn;

    queue = &dd->sh->delivered;

    for (n = 0; n < NGX_HTTP_SMILE_DEDUPE_EXPIRE; n++) {

        if (ngx_queue_empty(queue)) {
            if (queue == &dd->sh->spooled) {
                return;
            }

            queue = &dd->sh->spooled;
            continue;
        }

        q = ngx_queue_last(queue);
        dn = ngx_queue_data(q, ngx_http_smile_webhook_dedupe_node_t, queue);

        if (dn->expire > now) {
            if (queue == &dd->sh->spooled) {
                return;
            }

            queue = &dd->sh->spooled;
            continue;
        }

        ngx_http_smile_webhook_dedupe_delete(dd, dn);
    }
}


static void
ngx_http_smile_webhook_dedupe_delete(ngx_http_smile_webhook_dedupe_t *dd,
    ngx_http_smile_webhook_dedupe_node_t *dn)
{
    ngx_queue_remove(&dn->queue);

    if (dn->state == NGX_HTTP_SMILE_DEDUPE_SPOOLED) {
        dd->sh->nspooled--;

    } else {
        dd->sh->ndelivered--;
    }

    ngx_http_smile_webhook_dedupe_unlink(dd, dn);
    ngx_slab_free_locked(dd->shpool, dn);
}


/*
 * Whether the worker that holds an id in flight still runs.  A pid alone
 * does not say: the kernel may have given it to another process since the
 * worker died.  So the holder's start time is kept with its pid and
 * compared with the start time of whatever process has that pid now.
 */

static ngx_int_t
ngx_http_smile_webhook_dedupe_alive(ngx_pid_t pid, time_t start)
{
    time_t  now;

    if (pid == ngx_pid) {
        return 1;
    }

    if (kill(pid, 0) == -1) {

        /*
         * ESRCH: no such process; EPERM: a process of another user, so
         * not a worker of this nginx, whose workers share one user
         */

        return 0;
    }

    if (start == 0) {
        /* an entry without a start time: the pid is all there is */
        return 1;
    }

    now = ngx_http_smile_webhook_start_time(pid);

    return now == 0 || now == start;
}


/*
 * A process's start time, in clock ticks after boot: the 22nd field of
 * /proc/PID/stat.  0 when it cannot be read (no /proc).  The second field,
 * the command, is in parentheses and may hold spaces and parentheses: the
 * fields are counted after its last ")".
 */

static time_t
ngx_http_smile_webhook_start_time(ngx_pid_t pid)
{
    u_char      *p, *last;
    time_t       start;
    ssize_t      n;
    ngx_fd_t     fd;
    ngx_uint_t   field;
    u_char       path[NGX_INT64_LEN + sizeof("/proc//stat")];
    u_char       buf[1024];

    ngx_sprintf(path, "/proc/%P/stat%Z", pid);

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return 0;
    }

    n = read(fd, buf, sizeof(buf));

    (void) ngx_close_file(fd);

    if (n <= 0) {
        return 0;
    }

    last = buf + n;

    for (p = last; p > buf && p[-1] != ')'; p--) { /* void */ }

    if (p == buf) {
        return 0;
    }

    /* field 2 ends at p: skip to the first byte of field 22 */

    for (field = 2; field < 22 && p < last; p++) {
        if (*p == ' ') {
            field++;
        }
    }

    for (start = 0; p < last && *p >= '0' && *p <= '9'; p++) {
        start = start * 10 + (*p - '0');
    }

    return start;
}


/* this worker's start time, read once */

static time_t
ngx_http_smile_webhook_own_start_time(void)
{
    static ngx_pid_t  pid;
    static time_t     start;

    if (pid != ngx_pid) {
        pid = ngx_pid;
        start = ngx_http_smile_webhook_start_time(pid);
    }

    return start;
}


void
ngx_http_smile_webhook_dedupe_stats(ngx_shm_zone_t *zone,
    ngx_http_smile_webhook_dedupe_stats_t *st)
{
    ngx_http_smile_webhook_dedupe_t  *dd;

    dd = zone->data;

    ngx_shmtx_lock(&dd->shpool->mutex);

    st->delivered = dd->sh->ndelivered;
    st->in_flight = dd->sh->nin_flight;
    st->spooled = dd->sh->nspooled;
    st->evictions = dd->sh->evictions;
    st->overflows = dd->sh->overflows;

    ngx_shmtx_unlock(&dd->shpool->mutex);
}
