
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The hub: directives, configuration, and the PRECONTENT phase handler that
 * checks the source address and the signature header, reads the body
 * through the request body filter and settles the verdict.
 */


#include "ngx_http_smile_webhook_module.h"


static ngx_int_t ngx_http_smile_webhook_handler(ngx_http_request_t *r);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_precheck(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_allowed(ngx_http_request_t *r,
    ngx_http_smile_webhook_loc_conf_t *swlcf);
static ngx_int_t ngx_http_smile_webhook_start(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
static void ngx_http_smile_webhook_body_handler(ngx_http_request_t *r);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_check(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_verdict(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_result_e result);
static void ngx_http_smile_webhook_log(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
static ngx_http_smile_webhook_ctx_t *ngx_http_smile_webhook_create_ctx(
    ngx_http_request_t *r);
static void ngx_http_smile_webhook_cleanup(void *data);

static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_policy(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_acknowledge(ngx_http_request_t *r);

static void *ngx_http_smile_webhook_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_smile_webhook_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_smile_webhook_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_smile_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_smile_webhook_enum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_smile_webhook_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_smile_webhook_secret_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_smile_webhook_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_smile_webhook_signature_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_smile_webhook_events(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_smile_webhook_max_age(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_smile_webhook_add_secret(ngx_conf_t *cf,
    ngx_http_smile_webhook_loc_conf_t *swlcf, u_char *secret, size_t len,
    ngx_str_t *name);
static void ngx_http_smile_webhook_free_keys(void *data);
static ngx_int_t ngx_http_smile_webhook_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_smile_webhook_postconfiguration(ngx_conf_t *cf);
static void ngx_http_smile_webhook_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_smile_webhook_modes[] = {
    { ngx_string("off"), NGX_HTTP_SMILE_WEBHOOK_OFF },
    { ngx_string("on"), NGX_HTTP_SMILE_WEBHOOK_ON },
    { ngx_string("report"), NGX_HTTP_SMILE_WEBHOOK_REPORT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_smile_webhook_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_smile_webhook_commands[] = {

    { ngx_string("smile_webhook"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smile_webhook,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smile_webhook_loc_conf_t, enable),
      &ngx_http_smile_webhook_modes },

    { ngx_string("smile_webhook_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_smile_webhook_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smile_webhook_secret_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smile_webhook_allow,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_signature_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smile_webhook_signature_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smile_webhook_enum,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smile_webhook_loc_conf_t, log_level),
      &ngx_http_smile_webhook_log_levels },

    { ngx_string("smile_webhook_events"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_smile_webhook_events,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_smile_webhook_max_age,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_dedupe_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_smile_webhook_dedupe_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_dedupe"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smile_webhook_dedupe,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_smile_webhook_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_smile_webhook_module_ctx = {
    ngx_http_smile_webhook_preconfiguration, /* preconfiguration */
    ngx_http_smile_webhook_postconfiguration, /* postconfiguration */

    ngx_http_smile_webhook_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_smile_webhook_create_loc_conf, /* create location configuration */
    ngx_http_smile_webhook_merge_loc_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_smile_webhook_module = {
    NGX_MODULE_V1,
    &ngx_http_smile_webhook_module_ctx,    /* module context */
    ngx_http_smile_webhook_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_smile_webhook_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_smile_webhook_default_header =
    ngx_string("Smile-Signature");

static ngx_str_t  ngx_http_smile_webhook_default_allow =
    ngx_string("18.142.61.230");


/* Smile's event catalogue, deprecated types last */

static ngx_str_t  ngx_http_smile_webhook_catalogue[] = {
    ngx_string("USER_CREATED"),
    ngx_string("ACCOUNT_CREATED"),
    ngx_string("ACCOUNT_CONNECTED"),
    ngx_string("ACCOUNT_DISCONNECTED"),
    ngx_string("ACCOUNT_FAILED"),
    ngx_string("TASK_STARTED"),
    ngx_string("TASK_FINISHED"),
    ngx_string("ACCOUNT_SYNC_TASK_FINISHED"),
    ngx_string("ARCHIVE_STARTED"),
    ngx_string("ARCHIVE_ANALYZED"),
    ngx_string("ARCHIVE_REVOKED"),
    ngx_string("ARCHIVE_FAILED"),
    ngx_string("INVITE_INVITED"),
    ngx_string("INVITE_LINKED"),
    ngx_string("IDENTITY_ADDED"),
    ngx_string("RATING_ADDED"),
    ngx_string("TRANSACTIONS_ADDED"),
    ngx_string("DOCUMENTS_ADDED"),
    ngx_string("EMPLOYMENTS_ADDED"),
    ngx_string("INCOMES_ADDED"),
    ngx_string("EINCOMES_ADDED"),
    ngx_string("CONTRIBUTIONS_ADDED"),
    ngx_string("LIABILITIES_ADDED"),
    ngx_string("INSIGHT_ADDED"),
    ngx_string("LINK_ADDED"),
    ngx_string("CONTRIBUTIONS_UPDATED"),
    ngx_string("INCOMES_UPDATED"),
    ngx_string("DOCUMENTS_UPDATED"),
    ngx_string("EMPLOYMENTS_UPDATED"),
    ngx_string("EINCOMES_UPDATED"),
    ngx_string("LIABILITIES_UPDATED"),
    ngx_null_string
};


static ngx_int_t
ngx_http_smile_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_smile_webhook_ctx_t       *ctx;
    ngx_http_smile_webhook_result_e     result;
    ngx_http_smile_webhook_loc_conf_t  *swlcf;

    swlcf = ngx_http_get_module_loc_conf(r, ngx_http_smile_webhook_module);

    if (swlcf->enable == NGX_HTTP_SMILE_WEBHOOK_OFF || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_smile_webhook_get_ctx(r);

    if (ctx) {

        if (ctx->status == NGX_HTTP_OK) {
            /* acknowledged here, not forwarded */
            ctx->status = NGX_DONE;
            return ngx_http_smile_webhook_acknowledge(r);
        }

        /* NGX_DONE while the body is read, the verdict afterwards */
        return ctx->status;
    }

    ctx = ngx_http_smile_webhook_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->conf = swlcf;

    result = ngx_http_smile_webhook_precheck(r, ctx);

    if (result != NGX_HTTP_SMILE_WEBHOOK_NONE) {
        ctx->status = ngx_http_smile_webhook_verdict(r, ctx, result);
        return ctx->status;
    }

    if (ngx_http_smile_webhook_start(r, ctx) != NGX_OK) {
        ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ctx->status;
    }

    ctx->status = NGX_DONE;

    rc = ngx_http_read_client_request_body(r,
                                         ngx_http_smile_webhook_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->hashing = 0;
        ctx->status = rc;
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/* the checks made before any body byte is read */

static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_precheck(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_uint_t                          i, n;
    ngx_list_part_t                    *part;
    ngx_table_elt_t                    *h, *sig;
    ngx_http_smile_webhook_loc_conf_t  *swlcf;

    swlcf = ctx->conf;

    if (ngx_http_smile_webhook_allowed(r, swlcf) != NGX_OK) {
        return NGX_HTTP_SMILE_WEBHOOK_IP_DENIED;
    }

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_SMILE_WEBHOOK_METHOD_NOT_ALLOWED;
    }

    n = 0;
    sig = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == swlcf->header.len
            && ngx_strncasecmp(h[i].key.data, swlcf->header.data,
                               swlcf->header.len)
               == 0)
        {
            sig = &h[i];
            n++;
        }
    }

    if (n == 0) {
        return NGX_HTTP_SMILE_WEBHOOK_MISSING_SIGNATURE;
    }

    if (n > 1
        || smile_sig_decode(sig->value.data, sig->value.len,
                                             ctx->sig)
           != 0)
    {
        return NGX_HTTP_SMILE_WEBHOOK_MALFORMED_SIGNATURE;
    }

    return NGX_HTTP_SMILE_WEBHOOK_NONE;
}


static ngx_int_t
ngx_http_smile_webhook_allowed(ngx_http_request_t *r,
    ngx_http_smile_webhook_loc_conf_t *swlcf)
{
    if (swlcf->allow_all) {
        return NGX_OK;
    }

    return ngx_cidr_match(r->connection->sockaddr, swlcf->allow);
}


/* one HMAC context per secret, and the event parser */

static ngx_int_t
ngx_http_smile_webhook_start(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_uint_t                        i, n;
    ngx_http_smile_webhook_secret_t  *secret;

    n = ctx->conf->secrets->nelts;
    secret = ctx->conf->secrets->elts;

    ctx->hmacs = ngx_pcalloc(r->pool,
                             n * sizeof(smile_hmac_t));
    if (ctx->hmacs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (smile_hmac_start(&ctx->hmacs[i], &secret[i].key)
            != 0)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "smile webhook: HMAC-SHA512 init failed");
            return NGX_ERROR;
        }
    }

    if (smile_event_init(&ctx->event) != 0) {
        return NGX_ERROR;
    }

    /*
     * A body that another module has read already is walked once the read
     * returns; otherwise the request body filter sees every buffer.
     */

    ctx->hashing = (r->request_body == NULL);

    return NGX_OK;
}


ngx_int_t
ngx_http_smile_webhook_feed(ngx_http_smile_webhook_ctx_t *ctx, u_char *p,
    size_t len)
{
    ngx_uint_t  i, n;

    if (len == 0 || ctx->failed) {
        return NGX_OK;
    }

    n = ctx->conf->secrets->nelts;

    for (i = 0; i < n; i++) {
        if (smile_hmac_update(&ctx->hmacs[i], p, len) != 0) {
            ctx->failed = 1;
            return NGX_ERROR;
        }
    }

    ctx->received += len;

    smile_event_feed(&ctx->event, p, len);

    return NGX_OK;
}


static void
ngx_http_smile_webhook_body_handler(ngx_http_request_t *r)
{
    ngx_http_smile_webhook_ctx_t     *ctx;
    ngx_http_smile_webhook_result_e   result;

    ctx = ngx_http_smile_webhook_get_ctx(r);

    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!ctx->hashing) {
        if (ngx_http_smile_webhook_body_fallback(r, ctx) != NGX_OK) {
            ctx->failed = 1;
        }
    }

    ctx->hashing = 0;

    result = ngx_http_smile_webhook_check(r, ctx);

    if (result == NGX_HTTP_SMILE_WEBHOOK_OK && !ctx->failed) {
        result = ngx_http_smile_webhook_policy(r, ctx);
    }

    if (ctx->failed) {
        ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        ctx->status = ngx_http_smile_webhook_verdict(r, ctx, result);
    }

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_check(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    int                               rc;
    ngx_uint_t                        i, n;
    u_char                            mac[SMILE_SIG_LEN];
    ngx_http_smile_webhook_secret_t  *secret;

    n = ctx->conf->secrets->nelts;
    secret = ctx->conf->secrets->elts;

    for (i = 0; i < n && !ctx->failed; i++) {

        if (smile_hmac_final(&ctx->hmacs[i], &secret[i].key,
                                              mac)
            != 0)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "smile webhook: HMAC-SHA512 failed");
            ctx->failed = 1;
            break;
        }

        if (smile_sig_equal(mac, ctx->sig)
            && ctx->matched == NULL)
        {
            ctx->matched = &secret[i];
        }
    }

    ngx_explicit_memzero(mac, sizeof(mac));

    /* finished even for a bad signature: the log line names the event id */

    rc = smile_event_finish(&ctx->event);

    if (ctx->matched == NULL) {
        return NGX_HTTP_SMILE_WEBHOOK_BAD_SIGNATURE;
    }

    if (rc != 0) {
        return NGX_HTTP_SMILE_WEBHOOK_MALFORMED_EVENT;
    }

    return NGX_HTTP_SMILE_WEBHOOK_OK;
}


/*
 * The checks on an authentic event, in this order: the type filter, the
 * age of the signed createdAt, and the dedupe table, which is consulted
 * last so that an id is held only by an event that will be forwarded.
 */

static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_policy(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    time_t                              now;
    long long                           created;
    ngx_str_t                          *type;
    ngx_uint_t                          i;
    smile_event_t     *ev;
    ngx_http_smile_webhook_loc_conf_t  *swlcf;

    swlcf = ctx->conf;
    ev = &ctx->event;

    if (swlcf->events) {
        type = swlcf->events->elts;

        for (i = 0; i < swlcf->events->nelts; i++) {
            if (type[i].len == ev->type.len
                && ngx_memcmp(type[i].data, ev->type.data, ev->type.len) == 0)
            {
                break;
            }
        }

        if (i == swlcf->events->nelts) {
            ctx->reason = "event type is not in smile_webhook_events";
            return NGX_HTTP_SMILE_WEBHOOK_IGNORED;
        }
    }

    if (swlcf->max_age) {

        if (ev->created_at.len == 0
            || smile_parse_time(ev->created_at.data,
                                                 ev->created_at.len, &created)
               != 0)
        {
            ctx->reason = "createdAt is missing or not an RFC 3339 time, "
                          "and smile_webhook_max_age is set";
            return NGX_HTTP_SMILE_WEBHOOK_MALFORMED_EVENT;
        }

        now = ngx_time();

        if (created < (long long) now - swlcf->max_age) {
            ctx->reason = "createdAt is older than smile_webhook_max_age";
            return NGX_HTTP_SMILE_WEBHOOK_STALE;
        }

        if (created > (long long) now + swlcf->skew) {
            ctx->reason = "createdAt is in the future by more than the "
                          "allowed clock skew";
            return NGX_HTTP_SMILE_WEBHOOK_STALE;
        }
    }

    if (swlcf->dedupe) {
        return ngx_http_smile_webhook_dedupe_acquire(r, ctx);
    }

    return NGX_HTTP_SMILE_WEBHOOK_OK;
}


/* 200 with an empty body, for an event that is not forwarded */

static ngx_int_t
ngx_http_smile_webhook_acknowledge(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        rc = ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * Records the result, rewrites the X-Smile-* request headers and returns
 * what the phase handler answers: NGX_DECLINED to go on, or a status.
 */

static ngx_int_t
ngx_http_smile_webhook_verdict(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_result_e result)
{
    ngx_table_elt_t  *h;

    ctx->result = result;

    ngx_http_smile_webhook_count(r, ctx);

    if (result != NGX_HTTP_SMILE_WEBHOOK_OK) {
        ngx_http_smile_webhook_log(r, ctx);
    }

    if (ngx_http_smile_webhook_rewrite_headers(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (result == NGX_HTTP_SMILE_WEBHOOK_OK
        || ctx->conf->enable == NGX_HTTP_SMILE_WEBHOOK_REPORT)
    {
        return NGX_DECLINED;
    }

    switch (result) {

    case NGX_HTTP_SMILE_WEBHOOK_METHOD_NOT_ALLOWED:
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "POST");

        return NGX_HTTP_NOT_ALLOWED;

    case NGX_HTTP_SMILE_WEBHOOK_MALFORMED_EVENT:
        return NGX_HTTP_BAD_REQUEST;

    case NGX_HTTP_SMILE_WEBHOOK_IGNORED:
    case NGX_HTTP_SMILE_WEBHOOK_DUPLICATE:
        return NGX_HTTP_OK;

    case NGX_HTTP_SMILE_WEBHOOK_IN_FLIGHT:
        return NGX_HTTP_CONFLICT;

    default:
        return NGX_HTTP_UNAUTHORIZED;
    }
}


static void
ngx_http_smile_webhook_log(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    u_char                          *p;
    ngx_str_t                       *name;
    ngx_uint_t                       level, report;
    const char                      *reason, *mode;
    smile_event_t  *ev;
    u_char                           id[SMILE_ID_MAX + 64];

    ev = &ctx->event;
    name = ngx_http_smile_webhook_result_name(ctx->result);
    report = (ctx->conf->enable == NGX_HTTP_SMILE_WEBHOOK_REPORT);
    level = ctx->conf->log_level;

    mode = report ? "would reject (report mode) request" : "rejected request";

    /* events answered 200 but not forwarded are routine, not rejections */

    if (ctx->result == NGX_HTTP_SMILE_WEBHOOK_IGNORED
        || ctx->result == NGX_HTTP_SMILE_WEBHOOK_DUPLICATE)
    {
        level = NGX_LOG_INFO;
        mode = report ? "would acknowledge (report mode) request without "
                        "forwarding"
                      : "acknowledged request without forwarding";
    }

    switch (ctx->result) {

    case NGX_HTTP_SMILE_WEBHOOK_IP_DENIED:
        reason = "client address is not in smile_webhook_allow";
        break;

    case NGX_HTTP_SMILE_WEBHOOK_METHOD_NOT_ALLOWED:
        reason = "method is not POST";
        break;

    case NGX_HTTP_SMILE_WEBHOOK_MISSING_SIGNATURE:
        reason = "no signature header";
        break;

    case NGX_HTTP_SMILE_WEBHOOK_MALFORMED_SIGNATURE:
        reason = "signature header is repeated or not 128 hex digits";
        break;

    case NGX_HTTP_SMILE_WEBHOOK_BAD_SIGNATURE:
        reason = "no configured secret matches the signature";
        break;

    case NGX_HTTP_SMILE_WEBHOOK_DUPLICATE:
        reason = "event id was delivered already";
        break;

    case NGX_HTTP_SMILE_WEBHOOK_IN_FLIGHT:
        reason = "event id is being delivered by another request";
        break;

    default:
        reason = ctx->reason ? ctx->reason
                 : (ev->error ? ev->error : "invalid event");
        break;
    }

    /* an event id is logged only when it passed the safe pattern */

    if (ev->id.len) {
        p = ngx_snprintf(id, sizeof(id), ", %sevent id \"%s\"",
                         ctx->matched ? "" : "unverified ", ev->id.data);

    } else {
        p = id;
    }

    ngx_log_error(level, r->connection->log, 0,
                  "smile webhook %s: %V (%s)%*s",
                  mode, name, reason, (size_t) (p - id), id);
}


ngx_http_smile_webhook_ctx_t *
ngx_http_smile_webhook_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_smile_webhook_module);

    if (ctx || !(r->internal || r->filter_finalize)) {
        return ctx;
    }

    /* an internal redirect zeroed the module ctx: find it again */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_smile_webhook_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_smile_webhook_module);
            break;
        }
    }

    return ctx;
}


static ngx_http_smile_webhook_ctx_t *
ngx_http_smile_webhook_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_smile_webhook_ctx_t  *ctx;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_smile_webhook_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_smile_webhook_ctx_t));

    ctx->request = r;

    cln->handler = ngx_http_smile_webhook_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_smile_webhook_module);

    return ctx;
}


static void
ngx_http_smile_webhook_cleanup(void *data)
{
    ngx_http_smile_webhook_ctx_t *ctx = data;

    ngx_uint_t  i;

    /* the request is still whole: only its pool is being destroyed */

    ngx_http_smile_webhook_dedupe_release(ctx, ctx->request);

    if (ctx->hmacs) {
        for (i = 0; i < ctx->conf->secrets->nelts; i++) {
            smile_hmac_free(&ctx->hmacs[i]);
        }
    }

    smile_event_free(&ctx->event);
}


static void *
ngx_http_smile_webhook_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     swmcf->dedupe_zones = NULL;
     *     swmcf->dedupe_refs = NULL;
     *     swmcf->status = NULL;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_http_smile_webhook_main_conf_t));
}


static void *
ngx_http_smile_webhook_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_smile_webhook_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_smile_webhook_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->header = { 0, NULL };
     *     conf->enable_file = NULL;
     *     conf->enable_line = 0;
     *     conf->allow_all = 0;
     */

    conf->enable = NGX_CONF_UNSET_UINT;
    conf->log_level = NGX_CONF_UNSET_UINT;
    conf->secrets = NGX_CONF_UNSET_PTR;
    conf->allow = NGX_CONF_UNSET_PTR;
    conf->events = NGX_CONF_UNSET_PTR;
    conf->max_age = NGX_CONF_UNSET;
    conf->skew = NGX_CONF_UNSET;
    conf->dedupe = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_smile_webhook_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_smile_webhook_loc_conf_t *prev = parent;
    ngx_http_smile_webhook_loc_conf_t *conf = child;

    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    ngx_conf_merge_uint_value(conf->enable, prev->enable,
                              NGX_HTTP_SMILE_WEBHOOK_OFF);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_WARN);

    /* lists are inherited whole */

    ngx_conf_merge_ptr_value(conf->secrets, prev->secrets, NULL);
    ngx_conf_merge_ptr_value(conf->events, prev->events, NULL);
    ngx_conf_merge_ptr_value(conf->dedupe, prev->dedupe, NULL);

    if (conf->max_age == NGX_CONF_UNSET) {
        conf->max_age = (prev->max_age == NGX_CONF_UNSET) ? 0 : prev->max_age;
        conf->skew = (prev->skew == NGX_CONF_UNSET)
                     ? NGX_HTTP_SMILE_WEBHOOK_SKEW : prev->skew;
    }

    if (conf->allow == NGX_CONF_UNSET_PTR) {

        if (prev->allow == NGX_CONF_UNSET_PTR) {
            prev->allow = ngx_array_create(cf->pool, 1, sizeof(ngx_cidr_t));
            if (prev->allow == NULL) {
                return NGX_CONF_ERROR;
            }

            cidr = ngx_array_push(prev->allow);
            if (cidr == NULL) {
                return NGX_CONF_ERROR;
            }

            if (ngx_ptocidr(&ngx_http_smile_webhook_default_allow, cidr)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }
        }

        conf->allow = prev->allow;
    }

    /* "all" is kept in the list as a cidr of family AF_UNSPEC */

    cidr = conf->allow->elts;

    for (i = 0; i < conf->allow->nelts; i++) {
        if (cidr[i].family == AF_UNSPEC) {
            conf->allow_all = 1;
        }
    }

    if (conf->header.data == NULL) {
        if (prev->header.data) {
            conf->header = prev->header;

        } else {
            conf->header = ngx_http_smile_webhook_default_header;
        }
    }

    if (conf->enable != NGX_HTTP_SMILE_WEBHOOK_OFF && conf->secrets == NULL) {
        if (conf->enable_file) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"smile_webhook\" is enabled but no "
                          "\"smile_webhook_secret\" or "
                          "\"smile_webhook_secret_file\" is configured "
                          "in %s:%ui", conf->enable_file, conf->enable_line);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"smile_webhook\" is enabled but no "
                               "\"smile_webhook_secret\" or "
                               "\"smile_webhook_secret_file\" is configured");
        }

        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_smile_webhook(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    char  *rv;

    rv = ngx_http_smile_webhook_enum(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* kept for the "no secret" error, reported when locations are merged */

    swlcf->enable_file = cf->conf_file->file.name.data;
    swlcf->enable_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * ngx_conf_set_enum_slot(), with an error that names the directive and
 * the values it takes
 */

static char *
ngx_http_smile_webhook_enum(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char           *p, *last;
    ngx_str_t        *value;
    ngx_conf_enum_t  *e;
    u_char            values[128];

    value = cf->args->elts;

    for (e = cmd->post; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcasecmp(e->name.data, value[1].data) == 0)
        {
            return ngx_conf_set_enum_slot(cf, cmd, conf);
        }
    }

    p = values;
    last = values + sizeof(values);

    for (e = cmd->post; e->name.len; e++) {
        p = ngx_slprintf(p, last, "%s\"%V\"",
                         p == values ? "" : (e[1].name.len ? ", " : " or "),
                         &e->name);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be %*s",
                       &value[1], &cmd->name, (size_t) (p - values), values);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_smile_webhook_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    ngx_str_t  *value, name;

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty secret in \"%V\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&name);

    if (cf->args->nelts == 3) {
        if (value[2].len <= 5
            || ngx_strncmp(value[2].data, "name=", 5) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\", "
                               "expected \"name=ID\"", &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        name.data = value[2].data + 5;
        name.len = value[2].len - 5;
    }

    if (ngx_http_smile_webhook_add_secret(cf, swlcf, value[1].data,
                                          value[1].len, &name)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_smile_webhook_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    u_char           *p, *last, *eol, *end, *buf;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t        *value, path, name;
    ngx_int_t         rc;
    ngx_uint_t        line, found;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    value = cf->args->elts;
    path = value[1];

    if (path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty path in \"%V\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\" cannot open \"%s\"", &cmd->name, path.data);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.fd = fd;
    file.name = path;
    file.log = cf->log;

    rc = NGX_ERROR;
    buf = NULL;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\" cannot stat \"%s\"", &cmd->name, path.data);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > 65536) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" file \"%s\" is larger than 64k",
                           &cmd->name, path.data);
        goto done;
    }

    buf = ngx_pnalloc(cf->temp_pool, size + 1);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, buf, size, 0);

    if (n == NGX_ERROR || (size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\" cannot read \"%s\"", &cmd->name, path.data);
        goto done;
    }

    /* one secret a line; empty lines and lines starting with "#" skipped */

    found = 0;
    line = 0;
    last = buf + size;

    for (p = buf; p < last; p = eol + 1) {

        line++;

        eol = ngx_strlchr(p, last, LF);
        if (eol == NULL) {
            eol = last;
        }

        end = eol;

        if (end > p && end[-1] == CR) {
            end--;
        }

        if (end == p || *p == '#') {
            continue;
        }

        name.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN + 5);
        if (name.data == NULL) {
            goto done;
        }

        name.len = ngx_sprintf(name.data, "line%ui", line) - name.data;

        if (ngx_http_smile_webhook_add_secret(cf, swlcf, p, end - p, &name)
            != NGX_OK)
        {
            goto done;
        }

        found++;
    }

    if (found == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" file \"%s\" contains no secret",
                           &cmd->name, path.data);
        goto done;
    }

    rc = NGX_OK;

done:

    if (buf) {
        ngx_explicit_memzero(buf, size);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", path.data);
    }

    return rc == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_smile_webhook_add_secret(ngx_conf_t *cf,
    ngx_http_smile_webhook_loc_conf_t *swlcf, u_char *secret, size_t len,
    ngx_str_t *name)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_smile_webhook_secret_t  *s;

    if (swlcf->secrets == NGX_CONF_UNSET_PTR) {
        swlcf->secrets = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_smile_webhook_secret_t));
        if (swlcf->secrets == NULL) {
            return NGX_ERROR;
        }

        /*
         * the array moves when it grows, so the keys are freed through
         * the array, once, when the configuration pool is destroyed
         */

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_smile_webhook_free_keys;
        cln->data = swlcf->secrets;
    }

    s = ngx_array_push(swlcf->secrets);
    if (s == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(s, sizeof(ngx_http_smile_webhook_secret_t));

    if (name->len) {
        s->name = *name;

    } else {
        s->name.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN + 6);
        if (s->name.data == NULL) {
            return NGX_ERROR;
        }

        s->name.len = ngx_sprintf(s->name.data, "secret%ui",
                                  swlcf->secrets->nelts)
                      - s->name.data;
    }

    if (smile_hmac_key_init(&s->key, secret, len) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "HMAC-SHA512 key setup failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_smile_webhook_free_keys(void *data)
{
    ngx_array_t *secrets = data;

    ngx_uint_t                        i;
    ngx_http_smile_webhook_secret_t  *s;

    s = secrets->elts;

    for (i = 0; i < secrets->nelts; i++) {
        smile_hmac_key_free(&s[i].key);
    }
}


static char *
ngx_http_smile_webhook_allow(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_cidr_t  *cidr;

    value = cf->args->elts;

    if (swlcf->allow == NGX_CONF_UNSET_PTR) {
        swlcf->allow = ngx_array_create(cf->pool, 2, sizeof(ngx_cidr_t));
        if (swlcf->allow == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    cidr = ngx_array_push(swlcf->allow);
    if (cidr == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(cidr, sizeof(ngx_cidr_t));

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "all", 3) == 0) {
        cidr->family = AF_UNSPEC;
        return NGX_CONF_OK;
    }

    rc = ngx_ptocidr(&value[1], cidr);

    if (rc == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address or CIDR \"%V\" in \"%V\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (rc == NGX_DONE) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "low address bits of %V are meaningless",
                           &value[1]);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_smile_webhook_signature_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    u_char      c;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (swlcf->header.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        goto invalid;
    }

    for (i = 0; i < value[1].len; i++) {
        c = value[1].data[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            goto invalid;
        }
    }

    swlcf->header = value[1];

    if (ngx_strlchr(value[1].data, value[1].data + value[1].len, '_')) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "header name \"%V\" contains \"_\": nginx drops "
                           "such request headers unless "
                           "\"underscores_in_headers on\" is set",
                           &value[1]);
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid header name \"%V\" in \"%V\"",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


/* smile_webhook_events TYPE ... | ALL_EVENTS */

static char *
ngx_http_smile_webhook_events(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    ngx_str_t   *value, *type, *known;
    ngx_uint_t   i;

    if (swlcf->events != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "ALL_EVENTS") == 0) {
        swlcf->events = NULL;
        return NGX_CONF_OK;
    }

    swlcf->events = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_str_t));
    if (swlcf->events == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "ALL_EVENTS") == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"ALL_EVENTS\" cannot be combined with event "
                               "types in \"%V\"", &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (!smile_is_type(value[i].data, value[i].len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid event type \"%V\" in \"%V\", "
                               "it must be 1 to 64 of A-Z, 0-9 and _",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        /* Smile adds types now and then: an unknown one only warns */

        for (known = ngx_http_smile_webhook_catalogue; known->len; known++) {
            if (known->len == value[i].len
                && ngx_strncmp(known->data, value[i].data, value[i].len) == 0)
            {
                break;
            }
        }

        if (known->len == 0) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "event type \"%V\" in \"%V\" is not in "
                               "Smile's event catalogue", &value[i],
                               &cmd->name);
        }

        type = ngx_array_push(swlcf->events);
        if (type == NULL) {
            return NGX_CONF_ERROR;
        }

        *type = value[i];
    }

    return NGX_CONF_OK;
}


/* smile_webhook_max_age TIME [skew=TIME] | off */

static char *
ngx_http_smile_webhook_max_age(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    time_t      t;
    ngx_str_t  *value, s;

    if (swlcf->max_age != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    swlcf->skew = NGX_HTTP_SMILE_WEBHOOK_SKEW;

    if (ngx_strcmp(value[1].data, "off") == 0) {

        if (cf->args->nelts == 3) {
            goto invalid;
        }

        swlcf->max_age = 0;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 1);

    if (t == (time_t) NGX_ERROR || t == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", it must be "
                           "a time of at least one second, or \"off\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    swlcf->max_age = t;

    if (cf->args->nelts == 3) {

        if (ngx_strncmp(value[2].data, "skew=", 5) != 0) {
            goto invalid;
        }

        s.data = value[2].data + 5;
        s.len = value[2].len - 5;

        t = ngx_parse_time(&s, 1);

        if (t == (time_t) NGX_ERROR) {
            goto invalid;
        }

        swlcf->skew = t;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\"",
                       &value[2], &cmd->name);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_smile_webhook_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_smile_webhook_add_variables(cf);
}


static ngx_int_t
ngx_http_smile_webhook_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt                 *h;
    ngx_http_core_main_conf_t           *cmcf;
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    swmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_smile_webhook_module);

    if (ngx_http_smile_webhook_dedupe_init(cf, swmcf) != NGX_OK
        || ngx_http_smile_webhook_status_init(cf, swmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_smile_webhook_handler;

    return ngx_http_smile_webhook_body_init(cf);
}


/*
 * The HMAC and the parser keep a few contexts per process for the next
 * request; they go before the module is unloaded.
 */

static void
ngx_http_smile_webhook_exit_process(ngx_cycle_t *cycle)
{
    smile_exit();
}
