
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The body, fed to one HMAC context per secret and to the event parser:
 * each decoded buffer as it arrives, from a request body filter; or, for
 * a body some other module read before the phase handler ran, by walking
 * its buffers in memory and in the temporary file.
 */


#include "ngx_http_smile_webhook_module.h"


#define NGX_HTTP_SMILE_WEBHOOK_FILE_CHUNK  16384


static ngx_int_t ngx_http_smile_webhook_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_smile_webhook_feed(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, u_char *p, size_t len);
static ngx_int_t ngx_http_smile_webhook_feed_file(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_buf_t *b, u_char *chunk);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


/* one HMAC context per secret, and the event parser */

ngx_int_t
ngx_http_smile_webhook_body_start(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    ngx_uint_t                        i, n;
    ngx_http_smile_webhook_secret_t  *secret;

    n = ctx->conf->secrets->nelts;
    secret = ctx->conf->secrets->elts;

    ctx->hmacs = ngx_pcalloc(r->pool, n * sizeof(smile_hmac_t));
    if (ctx->hmacs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (smile_hmac_start(&ctx->hmacs[i], &secret[i].key) != 0) {
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


static ngx_int_t
ngx_http_smile_webhook_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_smile_webhook_module);

    if (ctx == NULL || !ctx->hashing) {
        return ngx_http_next_request_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_special(b)) {
            /* the empty last buffer */
            continue;
        }

        if (!ngx_buf_in_memory(b)) {
            /* never seen in practice: decoded buffers live in memory */
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "smile webhook: request body buffer not in memory");
            ctx->failed = 1;
            continue;
        }

        if (ngx_http_smile_webhook_feed(r, ctx, b->pos, b->last - b->pos)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_next_request_body_filter(r, in);
}


/*
 * The body was read before the phase handler ran: walk its buffers, in
 * memory or in the temporary file, without moving any buffer position.
 */

ngx_int_t
ngx_http_smile_webhook_body_fallback(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    u_char                   *chunk;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb;

    rb = r->request_body;

    if (rb == NULL) {
        return NGX_OK;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: body read earlier, walking its buffers");

    chunk = NULL;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            if (chunk == NULL) {
                chunk = ngx_pnalloc(r->pool,
                                    NGX_HTTP_SMILE_WEBHOOK_FILE_CHUNK);
                if (chunk == NULL) {
                    return NGX_ERROR;
                }
            }

            if (ngx_http_smile_webhook_feed_file(r, ctx, b, chunk) != NGX_OK) {
                return NGX_ERROR;
            }

            continue;
        }

        if (ngx_buf_in_memory(b)) {
            if (ngx_http_smile_webhook_feed(r, ctx, b->pos,
                                            b->last - b->pos)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (chunk) {
        ngx_pfree(r->pool, chunk);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_feed_file(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_buf_t *b, u_char *chunk)
{
    off_t      offset, saved;
    size_t     size;
    ssize_t    n;
    ngx_int_t  rc;

    if (b->file == NULL) {
        return NGX_ERROR;
    }

    /* ngx_read_file() advances the file offset: leave it as it was */

    saved = b->file->offset;
    rc = NGX_OK;

    for (offset = b->file_pos; offset < b->file_last; offset += n) {

        size = (size_t) ngx_min(b->file_last - offset,
                                NGX_HTTP_SMILE_WEBHOOK_FILE_CHUNK);

        n = ngx_read_file(b->file, chunk, size, offset);

        if (n == NGX_ERROR) {
            rc = NGX_ERROR;
            break;
        }

        if ((size_t) n != size) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "smile webhook: short read from request body "
                          "file \"%V\", %z of %uz", &b->file->name, n, size);
            rc = NGX_ERROR;
            break;
        }

        if (ngx_http_smile_webhook_feed(r, ctx, chunk, n) != NGX_OK) {
            rc = NGX_ERROR;
            break;
        }
    }

    b->file->offset = saved;

    return rc;
}


/* one buffer to every HMAC context and to the parser */

static ngx_int_t
ngx_http_smile_webhook_feed(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, u_char *p, size_t len)
{
    ngx_uint_t  i, n;

    if (len == 0 || ctx->failed) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "smile webhook: body buffer of %uz bytes", len);

    n = ctx->conf->secrets->nelts;

    for (i = 0; i < n; i++) {
        if (smile_hmac_update(&ctx->hmacs[i], p, len) != 0) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "smile webhook: HMAC-SHA512 failed");
            ctx->failed = 1;
            return NGX_ERROR;
        }
    }

    ctx->received += len;

    smile_event_feed(&ctx->event, p, len);

    return NGX_OK;
}


ngx_int_t
ngx_http_smile_webhook_body_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_smile_webhook_body_filter;

    return NGX_OK;
}
