
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * Counters shared by every worker and kept across reloads, and the
 * smile_webhook_status location that shows them in the Prometheus text
 * format.  Counters are updated with atomic adds, without a lock.  Event
 * types get a slot each, claimed with a compare-and-set; two workers that
 * claim a slot for one new type at the same moment get two slots, which
 * the exposition adds up.
 */


#include "ngx_http_smile_webhook_module.h"


#define NGX_HTTP_SMILE_STATUS_TYPES     64
#define NGX_HTTP_SMILE_STATUS_SIZE      (64 * 1024)

/* a slot whose name is being written */
#define NGX_HTTP_SMILE_STATUS_CLAIMED   ((ngx_atomic_uint_t) -1)


typedef struct {
    ngx_atomic_t                count;
    ngx_atomic_t                len;
    u_char                      name[SMILE_TYPE_MAX];
} ngx_http_smile_webhook_type_slot_t;


typedef struct {
    ngx_atomic_t                requests[NGX_HTTP_SMILE_WEBHOOK_NRESULTS];
    ngx_atomic_t                bytes;
    ngx_atomic_t                other_types;
    ngx_atomic_t                redis_down;     /* an outage is on */
    ngx_atomic_t                redis_outages;
    ngx_atomic_t                redis_fallbacks[2];
    ngx_http_smile_webhook_type_slot_t  types[NGX_HTTP_SMILE_STATUS_TYPES];
} ngx_http_smile_webhook_counters_t;


static ngx_http_smile_webhook_counters_t *
    ngx_http_smile_webhook_counters(void);
static ngx_int_t ngx_http_smile_webhook_status_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static void ngx_http_smile_webhook_count_type(
    ngx_http_smile_webhook_counters_t *c, u_char *name, size_t len);
static ngx_int_t ngx_http_smile_webhook_status_handler(ngx_http_request_t *r);
static size_t ngx_http_smile_webhook_status_size(
    ngx_http_smile_webhook_main_conf_t *swmcf);
static u_char *ngx_http_smile_webhook_status_spools(u_char *p,
    ngx_array_t *spools);
static u_char *ngx_http_smile_webhook_status_types(u_char *p, u_char *last,
    ngx_http_smile_webhook_counters_t *c);
static u_char *ngx_http_smile_webhook_status_zones(ngx_http_request_t *r,
    u_char *p, ngx_shm_zone_t **zones, ngx_uint_t n);


/*
 * A name no smile_webhook_dedupe_zone can take: those stop at a ':'.  The
 * number is the layout's: a reload into a module with another one starts
 * new counters rather than reading the old ones wrongly.
 */
static ngx_str_t  ngx_http_smile_webhook_status_zone =
    ngx_string("smile_webhook:counters:2");


ngx_int_t
ngx_http_smile_webhook_status_init(ngx_conf_t *cf,
    ngx_http_smile_webhook_main_conf_t *swmcf)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_smile_webhook_status_zone,
                                     NGX_HTTP_SMILE_STATUS_SIZE,
                                     &ngx_http_smile_webhook_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_smile_webhook_status_init_zone;
    swmcf->status = shm_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_status_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: the counters go on */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    shm_zone->data = ngx_slab_calloc(shpool,
                                    sizeof(ngx_http_smile_webhook_counters_t));
    if (shm_zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shm_zone->data;

    return NGX_OK;
}


static ngx_http_smile_webhook_counters_t *
ngx_http_smile_webhook_counters(void)
{
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    swmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                ngx_http_smile_webhook_module);

    if (swmcf == NULL || swmcf->status == NULL) {
        return NULL;
    }

    return swmcf->status->data;
}


/*
 * Redis went away or came back, seen by one process: the first process to
 * see it says so, once per outage for all of them.
 */

void
ngx_http_smile_webhook_redis_state(ngx_uint_t up, ngx_str_t *addr,
    const char *why)
{
    ngx_http_smile_webhook_counters_t  *c;

    c = ngx_http_smile_webhook_counters();

    if (c == NULL) {
        return;
    }

    if (up) {
        if (ngx_atomic_cmp_set(&c->redis_down, 1, 0)) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "smile webhook: redis %V is back: dedupe and the "
                          "spool are shared again", addr);
        }

        return;
    }

    if (ngx_atomic_cmp_set(&c->redis_down, 0, 1)) {
        (void) ngx_atomic_fetch_add(&c->redis_outages, 1);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "smile webhook: redis %V is unreachable (%s): dedupe "
                      "and the spool fall back to this node, and an event "
                      "delivered by another node may reach the app again",
                      addr, why);
    }
}


void
ngx_http_smile_webhook_redis_fallback(ngx_uint_t what)
{
    ngx_http_smile_webhook_counters_t  *c;

    c = ngx_http_smile_webhook_counters();

    if (c) {
        (void) ngx_atomic_fetch_add(&c->redis_fallbacks[what], 1);
    }
}


/* a request's result changed after it was counted (ok, then spooled) */

void
ngx_http_smile_webhook_recount(ngx_http_request_t *r,
    ngx_http_smile_webhook_result_e from, ngx_http_smile_webhook_result_e to)
{
    ngx_http_smile_webhook_counters_t   *c;
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    swmcf = ngx_http_get_module_main_conf(r, ngx_http_smile_webhook_module);

    c = swmcf->status->data;

    if (c == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&c->requests[from], -1);
    (void) ngx_atomic_fetch_add(&c->requests[to], 1);
}


/* once per request of a smile_webhook location, with its final result */

void
ngx_http_smile_webhook_count(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    smile_event_t                       *ev;
    ngx_http_smile_webhook_counters_t   *c;
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    swmcf = ngx_http_get_module_main_conf(r, ngx_http_smile_webhook_module);

    c = swmcf->status->data;

    if (c == NULL || ctx->result >= NGX_HTTP_SMILE_WEBHOOK_NRESULTS) {
        return;
    }

    (void) ngx_atomic_fetch_add(&c->requests[ctx->result], 1);

    if (ctx->received) {
        (void) ngx_atomic_fetch_add(&c->bytes, ctx->received);
    }

    ev = &ctx->event;

    if (ctx->matched && ev->type.len) {
        ngx_http_smile_webhook_count_type(c, ev->type.data, ev->type.len);
    }
}


static void
ngx_http_smile_webhook_count_type(ngx_http_smile_webhook_counters_t *c,
    u_char *name, size_t len)
{
    ngx_uint_t                           i;
    ngx_atomic_uint_t                    n;
    ngx_http_smile_webhook_type_slot_t  *slot;

    for (i = 0; i < NGX_HTTP_SMILE_STATUS_TYPES; i++) {
        slot = &c->types[i];
        n = slot->len;

        if (n == 0) {
            if (!ngx_atomic_cmp_set(&slot->len, 0,
                                    NGX_HTTP_SMILE_STATUS_CLAIMED))
            {
                /* claimed by another worker just now: look at it again */
                i--;
                continue;
            }

            ngx_memcpy(slot->name, name, len);
            ngx_memory_barrier();
            slot->len = len;

            (void) ngx_atomic_fetch_add(&slot->count, 1);
            return;
        }

        if (n == len && ngx_memcmp(slot->name, name, len) == 0) {
            (void) ngx_atomic_fetch_add(&slot->count, 1);
            return;
        }
    }

    (void) ngx_atomic_fetch_add(&c->other_types, 1);
}


/* smile_webhook_status */

char *
ngx_http_smile_webhook_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate or conflicts with another content handler";
    }

    clcf->handler = ngx_http_smile_webhook_status_handler;

    return NGX_CONF_OK;
}


#define NGX_HTTP_SMILE_STATUS_REQUESTS                                       \
    "# HELP smile_webhook_requests_total Requests to smile_webhook "         \
    "locations, by result.\n"                                                \
    "# TYPE smile_webhook_requests_total counter\n"

#define NGX_HTTP_SMILE_STATUS_EVENTS                                         \
    "# HELP smile_webhook_events_total Authentic events, by event type "     \
    "(\"__other__\" once " NGX_HTTP_SMILE_STATUS_TYPES_S " types are "       \
    "counted).\n"                                                            \
    "# TYPE smile_webhook_events_total counter\n"

#define NGX_HTTP_SMILE_STATUS_TYPES_S   "64"

#define NGX_HTTP_SMILE_STATUS_BYTES                                          \
    "# HELP smile_webhook_verified_bytes_total Request body bytes read and " \
    "checked.\n"                                                             \
    "# TYPE smile_webhook_verified_bytes_total counter\n"

#define NGX_HTTP_SMILE_STATUS_ENTRIES                                        \
    "# HELP smile_webhook_dedupe_entries Event ids in a dedupe zone, by "    \
    "state.\n"                                                               \
    "# TYPE smile_webhook_dedupe_entries gauge\n"

#define NGX_HTTP_SMILE_STATUS_EVICTIONS                                      \
    "# HELP smile_webhook_dedupe_evictions_total Delivered ids evicted "     \
    "before their ttl because the zone was full.\n"                          \
    "# TYPE smile_webhook_dedupe_evictions_total counter\n"

#define NGX_HTTP_SMILE_STATUS_OVERFLOWS                                      \
    "# HELP smile_webhook_dedupe_overflows_total Events forwarded without "  \
    "dedupe because no room could be made in the zone.\n"                    \
    "# TYPE smile_webhook_dedupe_overflows_total counter\n"

#define NGX_HTTP_SMILE_STATUS_REDIS                                          \
    "# HELP smile_webhook_redis_up Whether Redis answers (0 during an "      \
    "outage seen by any process).\n"                                         \
    "# TYPE smile_webhook_redis_up gauge\n"                                  \
    "smile_webhook_redis_up %uA\n"                                           \
    "# HELP smile_webhook_redis_outages_total Times Redis became "           \
    "unreachable.\n"                                                         \
    "# TYPE smile_webhook_redis_outages_total counter\n"                     \
    "smile_webhook_redis_outages_total %uA\n"                                \
    "# HELP smile_webhook_redis_fallbacks_total Decisions made on this "     \
    "node alone because Redis did not answer, by what.\n"                    \
    "# TYPE smile_webhook_redis_fallbacks_total counter\n"                   \
    "smile_webhook_redis_fallbacks_total{what=\"dedupe\"} %uA\n"             \
    "smile_webhook_redis_fallbacks_total{what=\"spool\"} %uA\n"

/* the spool metrics: one family after the other, a line per spool */

typedef struct {
    const char                 *head;       /* HELP and TYPE */
    const char                 *name;
    const char                 *label;      /* more labels, or "" */
    size_t                      offset;     /* in spool_stats_t; -1: age */
} ngx_http_smile_webhook_spool_metric_t;


#define NGX_HTTP_SMILE_STATUS_AGE  ((size_t) -1)

#define ngx_http_smile_webhook_metric(name, label, field, help, type)       \
    { "# HELP " name " " help "\n# TYPE " name " " type "\n",               \
      name, label,                                                           \
      offsetof(ngx_http_smile_webhook_spool_stats_t, field) }

static ngx_http_smile_webhook_spool_metric_t
    ngx_http_smile_webhook_spool_metrics[] =
{
    ngx_http_smile_webhook_metric("smile_webhook_spool_events_total", "",
        spooled, "Events written to a spool because the app failed.",
        "counter"),
    ngx_http_smile_webhook_metric("smile_webhook_spool_failures_total",
        ",reason=\"full\"", full, "Events the app failed that were not "
        "spooled (the client got the app's failure), by reason.", "counter"),
    { NULL, "smile_webhook_spool_failures_total", ",reason=\"error\"",
      offsetof(ngx_http_smile_webhook_spool_stats_t, failed) },
    ngx_http_smile_webhook_metric("smile_webhook_spool_replays_total",
        ",outcome=\"delivered\"", delivered,
        "Replays of spooled events, by outcome.", "counter"),
    { NULL, "smile_webhook_spool_replays_total", ",outcome=\"failed\"",
      offsetof(ngx_http_smile_webhook_spool_stats_t, retried) },
    ngx_http_smile_webhook_metric("smile_webhook_spool_dead_total", "", dead,
        "Events moved to dead/ after keep.", "counter"),
    ngx_http_smile_webhook_metric("smile_webhook_spool_depth_events", "",
        events, "Events in the spool.", "gauge"),
    ngx_http_smile_webhook_metric("smile_webhook_spool_depth_bytes", "",
        bytes, "Bytes in the spool.", "gauge"),
    { "# HELP smile_webhook_spool_oldest_age_seconds Age of the oldest "
      "spooled event, 0 when there is none.\n"
      "# TYPE smile_webhook_spool_oldest_age_seconds gauge\n",
      "smile_webhook_spool_oldest_age_seconds", "",
      NGX_HTTP_SMILE_STATUS_AGE },
    { NULL, NULL, NULL, 0 }
};

/* the longest line of a spool, its path aside; and the HELP lines */
#define NGX_HTTP_SMILE_STATUS_SPOOL_LINE                                     \
    (sizeof("smile_webhook_spool_oldest_age_seconds{spool=\"\","             \
            "outcome=\"delivered\"} \n") + NGX_ATOMIC_T_LEN)
#define NGX_HTTP_SMILE_STATUS_SPOOL_HELP  2048


static ngx_int_t
ngx_http_smile_webhook_status_handler(ngx_http_request_t *r)
{
    size_t                               size;
    ngx_int_t                            rc;
    ngx_str_t                           *result;
    ngx_buf_t                           *b;
    ngx_uint_t                           i, nzones;
    ngx_chain_t                          out;
    ngx_shm_zone_t                     **zones;
    ngx_http_smile_webhook_counters_t   *c;
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    swmcf = ngx_http_get_module_main_conf(r, ngx_http_smile_webhook_module);

    c = swmcf->status->data;

    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    nzones = swmcf->dedupe_zones ? swmcf->dedupe_zones->nelts : 0;
    zones = swmcf->dedupe_zones ? swmcf->dedupe_zones->elts : NULL;

    size = ngx_http_smile_webhook_status_size(swmcf);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, NGX_HTTP_SMILE_STATUS_REQUESTS,
                         sizeof(NGX_HTTP_SMILE_STATUS_REQUESTS) - 1);

    for (i = NGX_HTTP_SMILE_WEBHOOK_OK;
         i < NGX_HTTP_SMILE_WEBHOOK_NRESULTS;
         i++)
    {
        result = &ngx_http_smile_webhook_results[i].name;

        b->last = ngx_sprintf(b->last,
                              "smile_webhook_requests_total{result=\"%V\"} "
                              "%uA\n", result, c->requests[i]);
    }

    b->last = ngx_cpymem(b->last, NGX_HTTP_SMILE_STATUS_EVENTS,
                         sizeof(NGX_HTTP_SMILE_STATUS_EVENTS) - 1);

    b->last = ngx_http_smile_webhook_status_types(b->last, b->end, c);

    b->last = ngx_sprintf(b->last, NGX_HTTP_SMILE_STATUS_BYTES
                          "smile_webhook_verified_bytes_total %uA\n",
                          c->bytes);

    if (nzones) {
        b->last = ngx_http_smile_webhook_status_zones(r, b->last, zones,
                                                      nzones);
        if (b->last == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (swmcf->spools) {
        b->last = ngx_http_smile_webhook_status_spools(b->last,
                                                       swmcf->spools);
    }

    if (swmcf->redis) {
        b->last = ngx_sprintf(b->last, NGX_HTTP_SMILE_STATUS_REDIS,
                              c->redis_down ? 0 : 1, c->redis_outages,
                              c->redis_fallbacks[0], c->redis_fallbacks[1]);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the longest text the status location can write */

static size_t
ngx_http_smile_webhook_status_size(ngx_http_smile_webhook_main_conf_t *swmcf)
{
    size_t                            size;
    ngx_uint_t                        i, n;
    ngx_shm_zone_t                  **zones;
    ngx_http_smile_webhook_spool_t  **spools;

    size = sizeof(NGX_HTTP_SMILE_STATUS_REQUESTS)
           + NGX_HTTP_SMILE_WEBHOOK_NRESULTS
             * (sizeof("smile_webhook_requests_total{result=\"\"} \n")
                + 32 + NGX_ATOMIC_T_LEN)
           + sizeof(NGX_HTTP_SMILE_STATUS_EVENTS)
           + (NGX_HTTP_SMILE_STATUS_TYPES + 1)
             * (sizeof("smile_webhook_events_total{type=\"\"} \n")
                + SMILE_TYPE_MAX + NGX_ATOMIC_T_LEN)
           + sizeof(NGX_HTTP_SMILE_STATUS_BYTES) + 64
           + sizeof(NGX_HTTP_SMILE_STATUS_ENTRIES)
           + sizeof(NGX_HTTP_SMILE_STATUS_EVICTIONS)
           + sizeof(NGX_HTTP_SMILE_STATUS_OVERFLOWS);

    n = swmcf->dedupe_zones ? swmcf->dedupe_zones->nelts : 0;
    zones = swmcf->dedupe_zones ? swmcf->dedupe_zones->elts : NULL;

    for (i = 0; i < n; i++) {
        size += 5 * (sizeof("smile_webhook_dedupe_evictions_total"
                            "{zone=\"\",state=\"in_flight\"} \n")
                     + 2 * zones[i]->shm.name.len + NGX_INT64_LEN);
    }

    size += sizeof(NGX_HTTP_SMILE_STATUS_REDIS) + 4 * NGX_ATOMIC_T_LEN;

    if (swmcf->spools == NULL) {
        return size;
    }

    size += NGX_HTTP_SMILE_STATUS_SPOOL_HELP;
    spools = swmcf->spools->elts;

    for (i = 0; i < swmcf->spools->nelts; i++) {
        size += 9 * (NGX_HTTP_SMILE_STATUS_SPOOL_LINE + spools[i]->path.len);
    }

    return size;
}


/* the spools, one family after the other, each spool on a line */

static u_char *
ngx_http_smile_webhook_status_spools(u_char *p, ngx_array_t *spools)
{
    time_t                                  now;
    ngx_str_t                               path;
    ngx_uint_t                              i;
    ngx_atomic_uint_t                       v;
    ngx_http_smile_webhook_spool_t        **sp;
    ngx_http_smile_webhook_spool_stats_t   *st;
    ngx_http_smile_webhook_spool_metric_t  *m;

    sp = spools->elts;
    now = ngx_time();

    for (m = ngx_http_smile_webhook_spool_metrics; m->name; m++) {

        if (m->head) {
            p = ngx_cpymem(p, m->head, ngx_strlen(m->head));
        }

        for (i = 0; i < spools->nelts; i++) {
            st = ngx_http_smile_webhook_spool_stats(sp[i], &path);

            if (st == NULL) {
                continue;
            }

            if (m->offset == NGX_HTTP_SMILE_STATUS_AGE) {
                v = st->oldest ? (ngx_atomic_uint_t) (now - st->oldest) : 0;

            } else {
                v = *(ngx_atomic_t *) ((u_char *) st + m->offset);
            }

            p = ngx_sprintf(p, "%s{spool=\"%V\"%s} %uA\n", m->name, &path,
                            m->label, v);
        }
    }

    return p;
}


/* one line per type, slots of one type added up */

static u_char *
ngx_http_smile_webhook_status_types(u_char *p, u_char *last,
    ngx_http_smile_webhook_counters_t *c)
{
    ngx_uint_t                           i, j;
    ngx_atomic_uint_t                    len, n;
    ngx_http_smile_webhook_type_slot_t  *s;

    s = c->types;

    for (i = 0; i < NGX_HTTP_SMILE_STATUS_TYPES; i++) {
        len = s[i].len;

        if (len == 0 || len > SMILE_TYPE_MAX) {
            continue;
        }

        ngx_memory_barrier();

        for (j = 0; j < i; j++) {
            if (s[j].len == len && ngx_memcmp(s[j].name, s[i].name, len) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;   /* counted with the first slot of this type */
        }

        n = s[i].count;

        for (j = i + 1; j < NGX_HTTP_SMILE_STATUS_TYPES; j++) {
            if (s[j].len == len && ngx_memcmp(s[j].name, s[i].name, len) == 0)
            {
                n += s[j].count;
            }
        }

        p = ngx_slprintf(p, last,
                         "smile_webhook_events_total{type=\"%*s\"} %uA\n",
                         (size_t) len, s[i].name, n);
    }

    if (c->other_types) {
        p = ngx_slprintf(p, last,
                         "smile_webhook_events_total{type=\"__other__\"} "
                         "%uA\n", c->other_types);
    }

    return p;
}


/* each zone is read once, under its lock; then one metric family at a time */

static u_char *
ngx_http_smile_webhook_status_zones(ngx_http_request_t *r, u_char *p,
    ngx_shm_zone_t **zones, ngx_uint_t n)
{
    ngx_uint_t                              i;
    ngx_http_smile_webhook_dedupe_stats_t  *st;

    st = ngx_palloc(r->pool,
                    n * sizeof(ngx_http_smile_webhook_dedupe_stats_t));
    if (st == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        ngx_http_smile_webhook_dedupe_stats(zones[i], &st[i]);
    }

    p = ngx_cpymem(p, NGX_HTTP_SMILE_STATUS_ENTRIES,
                   sizeof(NGX_HTTP_SMILE_STATUS_ENTRIES) - 1);

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "smile_webhook_dedupe_entries"
                           "{zone=\"%V\",state=\"delivered\"} %ui\n"
                           "smile_webhook_dedupe_entries"
                           "{zone=\"%V\",state=\"in_flight\"} %ui\n"
                           "smile_webhook_dedupe_entries"
                           "{zone=\"%V\",state=\"spooled\"} %ui\n",
                        &zones[i]->shm.name, st[i].delivered,
                        &zones[i]->shm.name, st[i].in_flight,
                        &zones[i]->shm.name, st[i].spooled);
    }

    p = ngx_cpymem(p, NGX_HTTP_SMILE_STATUS_EVICTIONS,
                   sizeof(NGX_HTTP_SMILE_STATUS_EVICTIONS) - 1);

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "smile_webhook_dedupe_evictions_total"
                           "{zone=\"%V\"} %uL\n",
                        &zones[i]->shm.name, st[i].evictions);
    }

    p = ngx_cpymem(p, NGX_HTTP_SMILE_STATUS_OVERFLOWS,
                   sizeof(NGX_HTTP_SMILE_STATUS_OVERFLOWS) - 1);

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "smile_webhook_dedupe_overflows_total"
                           "{zone=\"%V\"} %uL\n",
                        &zones[i]->shm.name, st[i].overflows);
    }

    return p;
}
