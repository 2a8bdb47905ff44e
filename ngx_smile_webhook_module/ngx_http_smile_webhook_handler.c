
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The request path, in the order a request takes it:
 *
 *   handler      the PRECONTENT phase handler of a smile_webhook location,
 *                for a main request or a subrequest, first or again after
 *                an internal redirect
 *   precheck     source address, method and signature header, before any
 *                body byte is read
 *   body_handler once the body is read (each buffer went to the HMAC and
 *                the parser as it arrived, see _body.c)
 *   check        the signature, then the event
 *   policy       type filter, replay window, dedupe (which may ask Redis
 *                and resume the request with its answer)
 *   verdict      the result's row: status, log line, request headers
 *
 * The verdict is kept in the context; the handler, run again when the
 * phases resume, answers with it.
 */


#include "ngx_http_smile_webhook_module.h"


static ngx_int_t ngx_http_smile_webhook_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_again(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx,
    ngx_http_smile_webhook_loc_conf_t *swlcf);
static ngx_int_t ngx_http_smile_webhook_is_error_page(ngx_http_request_t *r,
    ngx_http_smile_webhook_loc_conf_t *swlcf);
static ngx_int_t ngx_http_smile_webhook_error_page(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx,
    ngx_http_smile_webhook_loc_conf_t *swlcf);
static ngx_int_t ngx_http_smile_webhook_subrequest(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_precheck(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_signature(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
static void ngx_http_smile_webhook_body_handler(ngx_http_request_t *r);
static void ngx_http_smile_webhook_decided(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_result_e result);
static void ngx_http_smile_webhook_resume(ngx_http_request_t *r,
    ngx_http_smile_webhook_result_e result);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_check(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_policy(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_listed(ngx_array_t *events,
    smile_field_t *type);
static ngx_http_smile_webhook_result_e ngx_http_smile_webhook_age(
    ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_verdict(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_result_e result);
static ngx_int_t ngx_http_smile_webhook_allow_header(ngx_http_request_t *r);
static void ngx_http_smile_webhook_log(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_smile_webhook_acknowledge(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);


static ngx_int_t
ngx_http_smile_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_smile_webhook_ctx_t       *ctx;
    ngx_http_smile_webhook_result_e     result;
    ngx_http_smile_webhook_loc_conf_t  *swlcf;

    swlcf = ngx_http_get_module_loc_conf(r, ngx_http_smile_webhook_module);

    if (swlcf->enable == NGX_HTTP_SMILE_WEBHOOK_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_smile_webhook_get_ctx(r);

    if (ctx) {
        rc = ngx_http_smile_webhook_again(r, ctx, swlcf);

        if (rc != NGX_AGAIN) {
            return rc;
        }

        /* checked for another location: checked again, for this one */

        ngx_http_smile_webhook_dedupe_release(ctx, r);
        ngx_http_smile_webhook_reset_ctx(ctx);

    } else if (ngx_http_smile_webhook_is_error_page(r, swlcf)) {
        return ngx_http_smile_webhook_error_page(r, NULL, swlcf);

    } else {
        ctx = ngx_http_smile_webhook_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: handler, mode %ui, %s request",
                   swlcf->enable, r == r->main ? "main" : "sub");

    ctx->conf = swlcf;

    if (r == r->main && swlcf->spool) {
        ctx->attempt = ngx_http_smile_webhook_replay_attempt(r, ctx);
    }

    result = ngx_http_smile_webhook_precheck(r, ctx);

    if (result != NGX_HTTP_SMILE_WEBHOOK_NONE) {
        ctx->status = ngx_http_smile_webhook_verdict(r, ctx, result);
        return ctx->status;
    }

    if (ngx_http_smile_webhook_body_start(r, ctx) != NGX_OK) {
        ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ctx->status;
    }

    if (r != r->main) {
        return ngx_http_smile_webhook_subrequest(r, ctx);
    }

    ctx->status = NGX_DONE;
    ctx->reading = 1;

    rc = ngx_http_read_client_request_body(r,
                                         ngx_http_smile_webhook_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->reading = 0;
        ctx->hashing = 0;
        ctx->broken = 1;
        ctx->status = rc;
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/*
 * The handler runs again for a request it has seen: when the phases resume
 * once the body is read, and after an internal redirect (error_page,
 * try_files, a named location, X-Accel-Redirect).  A verdict holds for the
 * location it was made for; in another location the request is checked
 * again, against that location's configuration (NGX_AGAIN).
 */

static ngx_int_t
ngx_http_smile_webhook_again(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_loc_conf_t *swlcf)
{
    if (ctx->reading) {
        /* the body read failed, and nginx redirected to an error page */
        ctx->reading = 0;
        ctx->hashing = 0;
        ctx->broken = 1;
    }

    if (ctx->broken || ngx_http_smile_webhook_is_error_page(r, swlcf)) {
        return ngx_http_smile_webhook_error_page(r, ctx, swlcf);
    }

    if (ctx->conf != swlcf) {
        return NGX_AGAIN;
    }

    if (ctx->status == NGX_HTTP_OK || ctx->status == NGX_HTTP_ACCEPTED) {
        /* acknowledged here, not forwarded */
        return ngx_http_smile_webhook_acknowledge(r, ctx);
    }

    /* NGX_DONE while the body is read, the verdict afterwards */

    return ctx->status;
}


/* a page nginx fetches for an error, made a GET: never a delivery */

static ngx_int_t
ngx_http_smile_webhook_is_error_page(ngx_http_request_t *r,
    ngx_http_smile_webhook_loc_conf_t *swlcf)
{
    return r->error_page
           && r->method != NGX_HTTP_POST
           && swlcf->enable == NGX_HTTP_SMILE_WEBHOOK_ON;
}


/*
 * An error page in an enabled location is served when nothing is
 * forwarded to serve it (a static file: the location has no content
 * handler), or when the request was found authentic.  Otherwise the
 * client gets nginx's own page for the status: an unverified request is
 * not sent upstream, not even for an error page.
 */

static ngx_int_t
ngx_http_smile_webhook_error_page(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_loc_conf_t *swlcf)
{
    if (swlcf->enable == NGX_HTTP_SMILE_WEBHOOK_REPORT
        || r->content_handler == NULL
        || (ctx && !ctx->broken && ctx->result == NGX_HTTP_SMILE_WEBHOOK_OK))
    {
        return NGX_DECLINED;
    }

    ngx_log_error(swlcf->log_level, r->connection->log, 0,
                  "smile webhook: not sending the unverified request "
                  "upstream for the error page \"%V\"", &r->uri);

    return (r->err_status >= NGX_HTTP_SPECIAL_RESPONSE) ? r->err_status
                                                      : NGX_HTTP_FORBIDDEN;
}


/*
 * A subrequest (mirror, auth_request, SSI include) into an enabled
 * location is checked like a main request, over the body it carries: the
 * main request's when that was read whole before the subrequest was made
 * (mirror reads it first); auth_request gives its subrequests an empty
 * body.  Without a whole body a subrequest is refused.
 */

static ngx_int_t
ngx_http_smile_webhook_subrequest(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_http_request_body_t          *rb;
    ngx_http_smile_webhook_result_e   result;

    rb = r->request_body;
    ctx->hashing = 0;

    if (rb == NULL || rb->rest != 0) {
        ctx->reason = "a subrequest without the whole request body";
        result = NGX_HTTP_SMILE_WEBHOOK_BAD_SIGNATURE;

    } else {
        if (ngx_http_smile_webhook_body_fallback(r, ctx) != NGX_OK) {
            ctx->failed = 1;
        }

        result = ngx_http_smile_webhook_check(r, ctx);

        if (result == NGX_HTTP_SMILE_WEBHOOK_OK && !ctx->failed) {
            result = ngx_http_smile_webhook_policy(r, ctx);
        }
    }

    if (ctx->failed) {
        ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return ctx->status;
    }

    ctx->status = ngx_http_smile_webhook_verdict(r, ctx, result);

    if (ctx->status == NGX_HTTP_OK || ctx->status == NGX_HTTP_ACCEPTED) {
        return ngx_http_smile_webhook_acknowledge(r, ctx);
    }

    return ctx->status;
}


/* the checks made before any body byte is read */

static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_precheck(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_http_smile_webhook_loc_conf_t  *swlcf;

    swlcf = ctx->conf;

    /* a replay comes from this node's replayer, not from Smile's address */

    if (!swlcf->allow_all
        && !ctx->attempt
        && ngx_cidr_match(r->connection->sockaddr, swlcf->allow) != NGX_OK)
    {
        return NGX_HTTP_SMILE_WEBHOOK_IP_DENIED;
    }

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_SMILE_WEBHOOK_METHOD_NOT_ALLOWED;
    }

    switch (ngx_http_smile_webhook_signature(r, ctx)) {

    case NGX_DECLINED:
        return NGX_HTTP_SMILE_WEBHOOK_MISSING_SIGNATURE;

    case NGX_ERROR:
        return NGX_HTTP_SMILE_WEBHOOK_MALFORMED_SIGNATURE;

    default:
        break;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: precheck passed, reading the body");

    return NGX_HTTP_SMILE_WEBHOOK_NONE;
}


/*
 * The signature header, decoded into ctx->sig: NGX_OK, NGX_DECLINED when
 * there is none, NGX_ERROR when it is repeated or not 128 hex digits.
 */

static ngx_int_t
ngx_http_smile_webhook_signature(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_str_t         *name;
    ngx_uint_t         i, n;
    ngx_list_part_t   *part;
    ngx_table_elt_t   *h, *sig;

    name = &ctx->conf->header;

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

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            sig = &h[i];
            n++;
        }
    }

    if (n == 0) {
        return NGX_DECLINED;
    }

    if (n > 1
        || smile_sig_decode(sig->value.data, sig->value.len, ctx->sig) != 0)
    {
        return NGX_ERROR;
    }

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
    ctx->reading = 0;

    result = ngx_http_smile_webhook_check(r, ctx);

    if (result == NGX_HTTP_SMILE_WEBHOOK_OK && !ctx->failed) {
        ctx->resume = ngx_http_smile_webhook_resume;

        result = ngx_http_smile_webhook_policy(r, ctx);

        if (result == NGX_HTTP_SMILE_WEBHOOK_NONE) {
            /* Redis is asked about the id: its answer resumes the request */
            return;
        }
    }

    ngx_http_smile_webhook_decided(r, ctx, result);
}


/* the verdict, and the phases go on: to the content handler, or not */

static void
ngx_http_smile_webhook_decided(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_result_e result)
{
    if (ctx->failed) {
        ctx->status = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        ctx->status = ngx_http_smile_webhook_verdict(r, ctx, result);
    }

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* Redis answered, or did not in time: the request goes on */

static void
ngx_http_smile_webhook_resume(ngx_http_request_t *r,
    ngx_http_smile_webhook_result_e result)
{
    ngx_connection_t              *c;
    ngx_http_smile_webhook_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_smile_webhook_get_ctx(r);

    ngx_http_smile_webhook_decided(r, ctx, result);
    ngx_http_run_posted_requests(c);
}


static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_check(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    int                               rc;
    ngx_uint_t                        i, n;
    ngx_http_smile_webhook_secret_t  *secret;
    u_char                            mac[SMILE_SIG_LEN];

    n = ctx->conf->secrets->nelts;
    secret = ctx->conf->secrets->elts;

    for (i = 0; i < n && !ctx->failed; i++) {

        if (smile_hmac_final(&ctx->hmacs[i], &secret[i].key, mac) != 0) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "smile webhook: HMAC-SHA512 failed");
            ctx->failed = 1;
            break;
        }

        if (smile_sig_equal(mac, ctx->sig) && ctx->matched == NULL) {
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
    ngx_http_smile_webhook_result_e     result;
    ngx_http_smile_webhook_loc_conf_t  *swlcf;

    swlcf = ctx->conf;

    if (swlcf->events
        && !ngx_http_smile_webhook_listed(swlcf->events, &ctx->event.type))
    {
        ctx->reason = "event type is not in smile_webhook_events";
        return NGX_HTTP_SMILE_WEBHOOK_IGNORED;
    }

    /* a replay may come days after createdAt: it was checked on arrival */

    if (swlcf->max_age && !ctx->attempt) {
        result = ngx_http_smile_webhook_age(ctx);

        if (result != NGX_HTTP_SMILE_WEBHOOK_OK) {
            return result;
        }
    }

    if (swlcf->dedupe) {
        return ngx_http_smile_webhook_dedupe_acquire(r, ctx);
    }

    return NGX_HTTP_SMILE_WEBHOOK_OK;
}


static ngx_int_t
ngx_http_smile_webhook_listed(ngx_array_t *events, smile_field_t *type)
{
    ngx_str_t   *t;
    ngx_uint_t   i;

    t = events->elts;

    for (i = 0; i < events->nelts; i++) {
        if (t[i].len == type->len
            && ngx_memcmp(t[i].data, type->data, type->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* the signed createdAt against smile_webhook_max_age and the skew */

static ngx_http_smile_webhook_result_e
ngx_http_smile_webhook_age(ngx_http_smile_webhook_ctx_t *ctx)
{
    time_t          now;
    long long       created;
    smile_field_t  *f;

    f = &ctx->event.created_at;

    if (f->len == 0 || smile_parse_time(f->data, f->len, &created) != 0) {
        ctx->reason = "createdAt is missing or not an RFC 3339 time, "
                      "and smile_webhook_max_age is set";
        return NGX_HTTP_SMILE_WEBHOOK_MALFORMED_EVENT;
    }

    now = ngx_time();

    if (created < (long long) now - ctx->conf->max_age) {
        ctx->reason = "createdAt is older than smile_webhook_max_age";
        return NGX_HTTP_SMILE_WEBHOOK_STALE;
    }

    if (created > (long long) now + ctx->conf->skew) {
        ctx->reason = "createdAt is in the future by more than the "
                      "allowed clock skew";
        return NGX_HTTP_SMILE_WEBHOOK_STALE;
    }

    return NGX_HTTP_SMILE_WEBHOOK_OK;
}


/*
 * Records the result, counts and logs it, rewrites the X-Smile-* request
 * headers and returns what the phase handler answers: NGX_DECLINED to go
 * on, or the result's status.
 */

static ngx_int_t
ngx_http_smile_webhook_verdict(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_http_smile_webhook_result_e result)
{
    ngx_http_smile_webhook_result_t  *row;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: verdict %V",
                   &ngx_http_smile_webhook_results[result].name);

    ctx->result = result;
    row = &ngx_http_smile_webhook_results[result];

    if (!ctx->attempt) {
        /* a replay is counted by the replayer, not as a request */
        ngx_http_smile_webhook_count(r, ctx);
    }

    if (row->action != NGX_HTTP_SMILE_WEBHOOK_FORWARD) {
        ngx_http_smile_webhook_log(r, ctx);
    }

    if (ngx_http_smile_webhook_rewrite_headers(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (row->action == NGX_HTTP_SMILE_WEBHOOK_FORWARD
        || ctx->conf->enable == NGX_HTTP_SMILE_WEBHOOK_REPORT)
    {
        if (ctx->attempt && result == NGX_HTTP_SMILE_WEBHOOK_OK) {
            ngx_http_smile_webhook_replay_hold(r, ctx);
        }

        return NGX_DECLINED;
    }

    if (row->status == NGX_HTTP_NOT_ALLOWED
        && ngx_http_smile_webhook_allow_header(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return row->status;
}


static ngx_int_t
ngx_http_smile_webhook_allow_header(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    ngx_str_set(&h->value, "POST");

    return NGX_OK;
}


static void
ngx_http_smile_webhook_log(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    u_char                           *p;
    ngx_uint_t                        level, report;
    const char                       *reason, *mode;
    smile_event_t                    *ev;
    ngx_http_smile_webhook_result_t  *row;
    u_char                            id[SMILE_ID_MAX + 128];

    ev = &ctx->event;
    row = &ngx_http_smile_webhook_results[ctx->result];
    report = (ctx->conf->enable == NGX_HTTP_SMILE_WEBHOOK_REPORT);

    if (row->action == NGX_HTTP_SMILE_WEBHOOK_ACK) {
        /* events answered 200 but not forwarded are routine */
        level = NGX_LOG_INFO;
        mode = report ? "would acknowledge (report mode) request without "
                        "forwarding"
                      : "acknowledged request without forwarding";

    } else {
        level = ctx->conf->log_level;
        mode = report ? "would reject (report mode) request"
                      : "rejected request";
    }

    reason = ctx->reason ? ctx->reason
             : row->reason ? row->reason
             : ev->error ? ev->error : "invalid event";

    /* an event id is logged only when it passed the safe pattern */

    if (ev->id.len) {
        p = ngx_snprintf(id, sizeof(id), ", %sevent id \"%s\"",
                         ctx->matched ? "" : "unverified ", ev->id.data);

    } else {
        p = id;
    }

    if (r != r->main) {
        p = ngx_snprintf(p, id + sizeof(id) - p, ", subrequest \"%V\"",
                         &r->uri);
    }

    ngx_log_error(level, r->connection->log, 0,
                  "smile webhook %s: %V (%s)%*s",
                  mode, &row->name, reason, (size_t) (p - id), id);
}


/* 200 (or 202, spooled) with no body, for an event not forwarded */

static ngx_int_t
ngx_http_smile_webhook_acknowledge(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_int_t  rc;

    r->headers_out.status = ctx->status;
    ctx->status = NGX_DONE;

    r->headers_out.content_length_n = 0;

    rc = ngx_http_send_header(r);

    if (rc != NGX_ERROR && rc <= NGX_OK && !r->header_only) {
        rc = ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


ngx_int_t
ngx_http_smile_webhook_handler_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_smile_webhook_handler;

    return NGX_OK;
}
