
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The request body filter that feeds each decoded body buffer, as it
 * arrives, to the HMAC contexts and the event parser; and the fallback
 * that walks a body some other module read before the phase handler ran.
 */


#include "ngx_http_smile_webhook_module.h"


#define NGX_HTTP_SMILE_WEBHOOK_FILE_CHUNK  16384


static ngx_int_t ngx_http_smile_webhook_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_smile_webhook_feed_file(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx, ngx_buf_t *b, u_char *chunk);


static ngx_http_request_body_filter_pt  ngx_http_next_request_body_filter;


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

        if (ngx_http_smile_webhook_feed(ctx, b->pos, b->last - b->pos)
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
            if (ngx_http_smile_webhook_feed(ctx, b->pos, b->last - b->pos)
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

        if (ngx_http_smile_webhook_feed(ctx, chunk, n) != NGX_OK) {
            rc = NGX_ERROR;
            break;
        }
    }

    b->file->offset = saved;

    return rc;
}


ngx_int_t
ngx_http_smile_webhook_body_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_smile_webhook_body_filter;

    return NGX_OK;
}
