
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * Request header rewriting: every client-sent X-Smile-* header is removed,
 * and the verified event's id, type, createdAt and data.userId are added
 * for the upstream.
 */


#include "ngx_http_smile_webhook_module.h"


static ngx_int_t ngx_http_smile_webhook_strip(ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_copy(ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_is_ours(ngx_table_elt_t *h);

/*
 * An added header's name, its lowercase form and the hash of that, which
 * is computed once per process rather than per request.
 */

typedef struct {
    ngx_str_t                   name;
    u_char                     *lowcase;
    ngx_uint_t                  hash;
} ngx_http_smile_webhook_header_t;


static ngx_int_t ngx_http_smile_webhook_add(ngx_http_request_t *r,
    ngx_http_smile_webhook_header_t *hdr, u_char *value, size_t len);


/* a header name folded as a CGI-style backend reads it: see is_ours() */
static ngx_str_t  ngx_http_smile_webhook_prefix = ngx_string("x_smile_");

static u_char  ngx_http_smile_webhook_lc_id[] = "x-smile-event-id";
static u_char  ngx_http_smile_webhook_lc_type[] = "x-smile-event-type";
static u_char  ngx_http_smile_webhook_lc_created_at[] =
    "x-smile-event-created-at";
static u_char  ngx_http_smile_webhook_lc_user_id[] = "x-smile-user-id";
static u_char  ngx_http_smile_webhook_lc_result[] = "x-smile-webhook-result";
static u_char  ngx_http_smile_webhook_lc_attempt[] =
    "x-smile-delivery-attempt";

static ngx_http_smile_webhook_header_t  ngx_http_smile_webhook_h_id =
    { ngx_string("X-Smile-Event-Id"), ngx_http_smile_webhook_lc_id, 0 };
static ngx_http_smile_webhook_header_t  ngx_http_smile_webhook_h_type =
    { ngx_string("X-Smile-Event-Type"), ngx_http_smile_webhook_lc_type, 0 };
static ngx_http_smile_webhook_header_t  ngx_http_smile_webhook_h_created_at =
    { ngx_string("X-Smile-Event-Created-At"),
      ngx_http_smile_webhook_lc_created_at, 0 };
static ngx_http_smile_webhook_header_t  ngx_http_smile_webhook_h_user_id =
    { ngx_string("X-Smile-User-Id"), ngx_http_smile_webhook_lc_user_id, 0 };
static ngx_http_smile_webhook_header_t  ngx_http_smile_webhook_h_result =
    { ngx_string("X-Smile-Webhook-Result"),
      ngx_http_smile_webhook_lc_result, 0 };
static ngx_http_smile_webhook_header_t  ngx_http_smile_webhook_h_attempt =
    { ngx_string("X-Smile-Delivery-Attempt"),
      ngx_http_smile_webhook_lc_attempt, 0 };


ngx_int_t
ngx_http_smile_webhook_rewrite_headers(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx)
{
    u_char         *p;
    ngx_int_t       rc;
    ngx_str_t      *result;
    smile_event_t  *ev;

    /*
     * A subrequest shares the parts of its parent's header list: it gets
     * a list of its own, so that nothing it loses or gains shows in the
     * parent.
     */

    rc = (r == r->main) ? ngx_http_smile_webhook_strip(r)
                        : ngx_http_smile_webhook_copy(r);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ev = &ctx->event;

    /* an authentic event, even one that report mode would not forward */

    if (ngx_http_smile_webhook_results[ctx->result].authentic) {
        if (ngx_http_smile_webhook_add(r, &ngx_http_smile_webhook_h_id,
                                       ev->id.data, ev->id.len)
            != NGX_OK
            || ngx_http_smile_webhook_add(r, &ngx_http_smile_webhook_h_type,
                                          ev->type.data, ev->type.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ev->created_at.len
            && ngx_http_smile_webhook_add(r,
                                          &ngx_http_smile_webhook_h_created_at,
                                          ev->created_at.data,
                                          ev->created_at.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ev->user_id.len
            && ngx_http_smile_webhook_add(r, &ngx_http_smile_webhook_h_user_id,
                                          ev->user_id.data, ev->user_id.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->attempt) {
        /* a replay from the spool: the first replay is the 2nd attempt */

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_smile_webhook_add(r, &ngx_http_smile_webhook_h_attempt,
                                       p, ngx_sprintf(p, "%ui", ctx->attempt)
                                          - p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->conf->enable == NGX_HTTP_SMILE_WEBHOOK_REPORT) {
        result = &ngx_http_smile_webhook_results[ctx->result].name;

        if (ngx_http_smile_webhook_add(r, &ngx_http_smile_webhook_h_result,
                                       result->data, result->len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Unlinks every X-Smile-* request header.  Elements never move: known
 * header pointers (r->headers_in.host and the like) point into the list.
 * The list is relinked as runs of the elements that stay, with no empty
 * part (nginx's list walkers would read one element of it), and the next
 * push goes to a new part: the last run may not own the end of its array.
 */

static ngx_int_t
ngx_http_smile_webhook_strip(ngx_http_request_t *r)
{
    ngx_uint_t        i, start, found;
    ngx_list_t       *list;
    ngx_array_t      *runs;
    ngx_list_part_t  *part, *run;
    ngx_table_elt_t  *h;

    list = &r->headers_in.headers;
    found = 0;

    for (part = &list->part; part && !found; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_smile_webhook_is_ours(&h[i])) {
                found = 1;
                break;
            }
        }
    }

    if (!found) {
        return NGX_OK;
    }

    runs = ngx_array_create(r->pool, 4, sizeof(ngx_list_part_t));
    if (runs == NULL) {
        return NGX_ERROR;
    }

    for (part = &list->part; part; part = part->next) {
        h = part->elts;
        start = 0;

        for (i = 0; i <= part->nelts; i++) {

            if (i < part->nelts && !ngx_http_smile_webhook_is_ours(&h[i])) {
                continue;
            }

            if (i < part->nelts) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "smile webhook: removing client header \"%V\"",
                               &h[i].key);
            }

            if (i > start) {
                run = ngx_array_push(runs);
                if (run == NULL) {
                    return NGX_ERROR;
                }

                run->elts = &h[start];
                run->nelts = i - start;
                run->next = NULL;
            }

            start = i + 1;
        }
    }

    if (runs->nelts == 0) {
        /* nothing stays: pushes start again at the first array */
        list->part.nelts = 0;
        list->part.next = NULL;
        list->last = &list->part;

        return NGX_OK;
    }

    run = runs->elts;

    for (i = 1; i < runs->nelts; i++) {
        run[i - 1].next = &run[i];
    }

    list->part = run[0];
    list->last = (runs->nelts == 1) ? &list->part : &run[runs->nelts - 1];
    list->nalloc = list->last->nelts;

    return NGX_OK;
}


/* the request's headers but X-Smile-*, in a new list of the request */

static ngx_int_t
ngx_http_smile_webhook_copy(ngx_http_request_t *r)
{
    ngx_uint_t        i, n;
    ngx_list_t        old;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *copy;

    /* the parts stay where they are; only the list head is copied */

    old = r->headers_in.headers;
    n = 0;

    for (part = &old.part; part; part = part->next) {
        n += part->nelts;
    }

    if (ngx_list_init(&r->headers_in.headers, r->pool, n + 5,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (part = &old.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_smile_webhook_is_ours(&h[i])) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "smile webhook: removing client header "
                               "\"%V\" from a subrequest", &h[i].key);
                continue;
            }

            copy = ngx_list_push(&r->headers_in.headers);
            if (copy == NULL) {
                return NGX_ERROR;
            }

            *copy = h[i];
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_is_ours(ngx_table_elt_t *h)
{
    return ngx_http_smile_webhook_is_smile_header(h->key.data, h->key.len);
}


/*
 * A name that starts with "X-Smile-" once folded the way CGI-style
 * backends fold it: letters in any case, and any other byte than a letter
 * or a digit read as "_" (FastCGI turns "-" into "_", PHP turns "." and
 * " " into "_"; with ignore_invalid_headers off, nginx lets such names
 * through).  So X_Smile_Event_Id and X.Smile.User.Id are ours too.
 */

ngx_int_t
ngx_http_smile_webhook_is_smile_header(u_char *name, size_t len)
{
    u_char      c;
    ngx_uint_t  i;

    if (len < ngx_http_smile_webhook_prefix.len) {
        return 0;
    }

    for (i = 0; i < ngx_http_smile_webhook_prefix.len; i++) {
        c = ngx_tolower(name[i]);

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            c = '_';
        }

        if (c != ngx_http_smile_webhook_prefix.data[i]) {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_smile_webhook_add(ngx_http_request_t *r,
    ngx_http_smile_webhook_header_t *hdr, u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (hdr->hash == 0) {
        hdr->hash = ngx_hash_key(hdr->lowcase, hdr->name.len);
    }

    h->key = hdr->name;
    h->value.data = value;
    h->value.len = len;
    h->lowcase_key = hdr->lowcase;
    h->hash = hdr->hash;

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
