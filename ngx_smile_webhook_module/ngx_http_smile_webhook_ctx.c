
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The request context, and the table that says what each result does.
 *
 * The context lives in the data of a request pool cleanup, so that it can
 * be found again after an internal redirect has zeroed the module
 * contexts (as the realip module finds its own), and its HMAC contexts
 * and parser memory are freed with the request.
 */


#include "ngx_http_smile_webhook_module.h"


static void ngx_http_smile_webhook_cleanup(void *data);


#define ngx_http_smile_webhook_row(name, action, status, reason, authentic)  \
    { ngx_string(name), NGX_HTTP_SMILE_WEBHOOK_##action, status, reason,     \
      authentic }


/* in the order of ngx_http_smile_webhook_result_e */

ngx_http_smile_webhook_result_t  ngx_http_smile_webhook_results[] = {

    ngx_http_smile_webhook_row("", FORWARD, NGX_DECLINED, NULL, 0),

    ngx_http_smile_webhook_row("ok", FORWARD, NGX_DECLINED, NULL, 1),

    ngx_http_smile_webhook_row("ip_denied", REJECT, NGX_HTTP_UNAUTHORIZED,
        "client address is not in smile_webhook_allow", 0),

    ngx_http_smile_webhook_row("method_not_allowed", REJECT,
        NGX_HTTP_NOT_ALLOWED, "method is not POST", 0),

    ngx_http_smile_webhook_row("missing_signature", REJECT,
        NGX_HTTP_UNAUTHORIZED, "no signature header", 0),

    ngx_http_smile_webhook_row("malformed_signature", REJECT,
        NGX_HTTP_UNAUTHORIZED,
        "signature header is repeated or not 128 hex digits", 0),

    ngx_http_smile_webhook_row("bad_signature", REJECT,
        NGX_HTTP_UNAUTHORIZED, "no configured secret matches the signature",
        0),

    /* the parser's or the policy's reason */
    ngx_http_smile_webhook_row("malformed_event", REJECT,
        NGX_HTTP_BAD_REQUEST, NULL, 0),

    ngx_http_smile_webhook_row("stale", REJECT, NGX_HTTP_UNAUTHORIZED, NULL,
        1),

    ngx_http_smile_webhook_row("ignored", ACK, NGX_HTTP_OK, NULL, 1),

    ngx_http_smile_webhook_row("duplicate", ACK, NGX_HTTP_OK,
        "event id was delivered already", 1),

    ngx_http_smile_webhook_row("in_flight", REJECT, NGX_HTTP_CONFLICT,
        "event id is being delivered by another request", 1),

    ngx_http_smile_webhook_row("spooled", ACK, NGX_HTTP_ACCEPTED,
        "event id is spooled, to be delivered later", 1),
};


ngx_http_smile_webhook_ctx_t *
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


/*
 * This request's context.  An internal redirect zeroes the module
 * contexts: the context is then found again among the pool cleanups,
 * which a request shares with its subrequests, each of which may have a
 * context of its own.
 */

ngx_http_smile_webhook_ctx_t *
ngx_http_smile_webhook_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_smile_webhook_module);

    if (ctx || !(r->internal || r->filter_finalize)) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_smile_webhook_cleanup) {
            ctx = cln->data;

            if (ctx->request == r) {
                ngx_http_set_ctx(r, ctx, ngx_http_smile_webhook_module);
                return ctx;
            }
        }
    }

    return NULL;
}


/* before the request is checked again, for another location */

void
ngx_http_smile_webhook_reset_ctx(ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_http_request_t  *r;

    ngx_http_smile_webhook_cleanup(ctx);

    r = ctx->request;
    ngx_memzero(ctx, sizeof(ngx_http_smile_webhook_ctx_t));
    ctx->request = r;
}


static void
ngx_http_smile_webhook_cleanup(void *data)
{
    ngx_http_smile_webhook_ctx_t *ctx = data;

    ngx_uint_t  i;

    if (ctx->hmacs) {
        for (i = 0; i < ctx->conf->secrets->nelts; i++) {
            smile_hmac_free(&ctx->hmacs[i]);
        }
    }

    smile_event_free(&ctx->event);
}
