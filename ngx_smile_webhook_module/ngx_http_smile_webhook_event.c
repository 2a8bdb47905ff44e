
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The streaming event parser: yajl callbacks that keep the few fields the
 * module routes on.  No nginx dependency; fed buffer by buffer.
 */


#include <string.h>
#include <yajl/yajl_parse.h>

#include "ngx_http_smile_webhook_pure.h"


enum {
    NGX_SMILE_F_NONE = 0,
    NGX_SMILE_F_ID,
    NGX_SMILE_F_TYPE,
    NGX_SMILE_F_CREATED_AT,
    NGX_SMILE_F_VERSION,
    NGX_SMILE_F_DATA,
    NGX_SMILE_F_USER_ID,
    NGX_SMILE_F_ACCOUNT_ID
};


typedef struct {
    const char             *name;
    size_t                  len;
    unsigned                field;
} ngx_http_smile_webhook_key_t;


static int ngx_http_smile_webhook_fail(ngx_http_smile_webhook_event_t *ev,
    const char *reason);
static int ngx_http_smile_webhook_scalar(ngx_http_smile_webhook_event_t *ev,
    int is_string, const unsigned char *p, size_t len);
static int ngx_http_smile_webhook_set(ngx_http_smile_webhook_field_t *f,
    const unsigned char *p, size_t len);
static int ngx_http_smile_webhook_on_null(void *ctx);
static int ngx_http_smile_webhook_on_boolean(void *ctx, int v);
static int ngx_http_smile_webhook_on_number(void *ctx, const char *s,
    size_t len);
static int ngx_http_smile_webhook_on_string(void *ctx,
    const unsigned char *s, size_t len);
static int ngx_http_smile_webhook_on_start_map(void *ctx);
static int ngx_http_smile_webhook_on_map_key(void *ctx,
    const unsigned char *key, size_t len);
static int ngx_http_smile_webhook_on_end(void *ctx);
static int ngx_http_smile_webhook_on_start_array(void *ctx);


static const yajl_callbacks  ngx_http_smile_webhook_callbacks = {
    ngx_http_smile_webhook_on_null,
    ngx_http_smile_webhook_on_boolean,
    NULL,
    NULL,
    ngx_http_smile_webhook_on_number,
    ngx_http_smile_webhook_on_string,
    ngx_http_smile_webhook_on_start_map,
    ngx_http_smile_webhook_on_map_key,
    ngx_http_smile_webhook_on_end,
    ngx_http_smile_webhook_on_start_array,
    ngx_http_smile_webhook_on_end
};


static const ngx_http_smile_webhook_key_t  ngx_http_smile_webhook_top_keys[] = {
    { "id", 2, NGX_SMILE_F_ID },
    { "type", 4, NGX_SMILE_F_TYPE },
    { "createdAt", 9, NGX_SMILE_F_CREATED_AT },
    { "version", 7, NGX_SMILE_F_VERSION },
    { "data", 4, NGX_SMILE_F_DATA },
    { NULL, 0, NGX_SMILE_F_NONE }
};


static const ngx_http_smile_webhook_key_t  ngx_http_smile_webhook_data_keys[] = {
    { "userId", 6, NGX_SMILE_F_USER_ID },
    { "accountId", 9, NGX_SMILE_F_ACCOUNT_ID },
    { NULL, 0, NGX_SMILE_F_NONE }
};


int
ngx_http_smile_webhook_is_type(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_SMILE_TYPE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_smile_webhook_is_id(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_SMILE_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')
              || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '.' || p[i] == '_' || p[i] == ':' || p[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_smile_webhook_is_time(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_SMILE_TIME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')
              || (p[i] >= '0' && p[i] <= '9')
              || p[i] == ':' || p[i] == '.' || p[i] == '+' || p[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_smile_webhook_is_version(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_SMILE_VERSION_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }

    return 1;
}


int
ngx_http_smile_webhook_event_init(ngx_http_smile_webhook_event_t *ev)
{
    memset(ev, 0, sizeof(ngx_http_smile_webhook_event_t));

    ev->yajl = yajl_alloc(&ngx_http_smile_webhook_callbacks, NULL, ev);
    if (ev->yajl == NULL) {
        return -1;
    }

    return 0;
}


void
ngx_http_smile_webhook_event_feed(ngx_http_smile_webhook_event_t *ev,
    const unsigned char *p, size_t len)
{
    yajl_status  st;

    if (ev->error || len == 0) {
        return;
    }

    st = yajl_parse(ev->yajl, p, len);

    if (st != yajl_status_ok && ev->error == NULL) {
        ev->error = "body is not valid JSON";
    }
}


int
ngx_http_smile_webhook_event_finish(ngx_http_smile_webhook_event_t *ev)
{
    if (ev->error == NULL
        && yajl_complete_parse(ev->yajl) != yajl_status_ok
        && ev->error == NULL)
    {
        ev->error = "body is not valid JSON";
    }

    if (ev->error) {
        return -1;
    }

    if (!ev->started) {
        ev->error = "body is not a JSON object";
        return -1;
    }

    if (ev->id.len == 0) {
        ev->error = "no top-level string \"id\"";
        return -1;
    }

    if (ev->type.len == 0) {
        ev->error = "no top-level string \"type\"";
        return -1;
    }

    return 0;
}


void
ngx_http_smile_webhook_event_free(ngx_http_smile_webhook_event_t *ev)
{
    if (ev->yajl) {
        yajl_free(ev->yajl);
        ev->yajl = NULL;
    }
}


static int
ngx_http_smile_webhook_fail(ngx_http_smile_webhook_event_t *ev,
    const char *reason)
{
    if (ev->error == NULL) {
        ev->error = reason;
    }

    return 0;
}


static int
ngx_http_smile_webhook_set(ngx_http_smile_webhook_field_t *f,
    const unsigned char *p, size_t len)
{
    memcpy(f->data, p, len);
    f->data[len] = '\0';
    f->len = len;

    return 1;
}


/*
 * A scalar value, or the start of a container (p == NULL), at the current
 * position: it fills the field its key named, if any.
 */

static int
ngx_http_smile_webhook_scalar(ngx_http_smile_webhook_event_t *ev,
    int is_string, const unsigned char *p, size_t len)
{
    unsigned  field;

    field = ev->field;
    ev->field = NGX_SMILE_F_NONE;

    if (ev->depth == 0) {
        return ngx_http_smile_webhook_fail(ev, "body is not a JSON object");
    }

    switch (field) {

    case NGX_SMILE_F_ID:
        if (!is_string) {
            return ngx_http_smile_webhook_fail(ev, "\"id\" is not a string");
        }

        if (!ngx_http_smile_webhook_is_id(p, len)) {
            return ngx_http_smile_webhook_fail(ev,
                                    "\"id\" does not match the safe pattern");
        }

        return ngx_http_smile_webhook_set(&ev->id, p, len);

    case NGX_SMILE_F_TYPE:
        if (!is_string) {
            return ngx_http_smile_webhook_fail(ev, "\"type\" is not a string");
        }

        if (!ngx_http_smile_webhook_is_type(p, len)) {
            return ngx_http_smile_webhook_fail(ev,
                                  "\"type\" does not match the safe pattern");
        }

        return ngx_http_smile_webhook_set(&ev->type, p, len);

    case NGX_SMILE_F_CREATED_AT:
        if (!is_string) {
            return ngx_http_smile_webhook_fail(ev,
                                               "\"createdAt\" is not a string");
        }

        if (!ngx_http_smile_webhook_is_time(p, len)) {
            return ngx_http_smile_webhook_fail(ev,
                             "\"createdAt\" does not match the safe pattern");
        }

        return ngx_http_smile_webhook_set(&ev->created_at, p, len);

    case NGX_SMILE_F_USER_ID:
        if (!is_string) {
            return ngx_http_smile_webhook_fail(ev,
                                          "\"data.userId\" is not a string");
        }

        if (!ngx_http_smile_webhook_is_id(p, len)) {
            return ngx_http_smile_webhook_fail(ev,
                           "\"data.userId\" does not match the safe pattern");
        }

        return ngx_http_smile_webhook_set(&ev->user_id, p, len);

    case NGX_SMILE_F_ACCOUNT_ID:
        if (p != NULL && ngx_http_smile_webhook_is_id(p, len)) {
            return ngx_http_smile_webhook_set(&ev->account_id, p, len);
        }

        return 1;

    case NGX_SMILE_F_VERSION:
        if (p != NULL && ngx_http_smile_webhook_is_version(p, len)) {
            return ngx_http_smile_webhook_set(&ev->version, p, len);
        }

        return 1;

    default:
        return 1;
    }
}


static int
ngx_http_smile_webhook_on_null(void *ctx)
{
    return ngx_http_smile_webhook_scalar(ctx, 0, NULL, 0);
}


static int
ngx_http_smile_webhook_on_boolean(void *ctx, int v)
{
    return ngx_http_smile_webhook_scalar(ctx, 0, NULL, 0);
}


static int
ngx_http_smile_webhook_on_number(void *ctx, const char *s, size_t len)
{
    return ngx_http_smile_webhook_scalar(ctx, 0, (const unsigned char *) s,
                                         len);
}


static int
ngx_http_smile_webhook_on_string(void *ctx, const unsigned char *s,
    size_t len)
{
    return ngx_http_smile_webhook_scalar(ctx, 1, s, len);
}


static int
ngx_http_smile_webhook_on_start_map(void *ctx)
{
    ngx_http_smile_webhook_event_t *ev = ctx;

    if (ev->depth == 0) {
        ev->started = 1;
        ev->depth = 1;
        return 1;
    }

    if (ev->depth == 1 && ev->field == NGX_SMILE_F_DATA) {
        ev->in_data = 1;
        ev->field = NGX_SMILE_F_NONE;

    } else if (!ngx_http_smile_webhook_scalar(ev, 0, NULL, 0)) {
        return 0;
    }

    if (++ev->depth > NGX_SMILE_MAX_DEPTH) {
        return ngx_http_smile_webhook_fail(ev, "JSON is nested too deeply");
    }

    return 1;
}


static int
ngx_http_smile_webhook_on_start_array(void *ctx)
{
    ngx_http_smile_webhook_event_t *ev = ctx;

    if (!ngx_http_smile_webhook_scalar(ev, 0, NULL, 0)) {
        return 0;
    }

    if (++ev->depth > NGX_SMILE_MAX_DEPTH) {
        return ngx_http_smile_webhook_fail(ev, "JSON is nested too deeply");
    }

    return 1;
}


static int
ngx_http_smile_webhook_on_end(void *ctx)
{
    ngx_http_smile_webhook_event_t *ev = ctx;

    ev->depth--;
    ev->field = NGX_SMILE_F_NONE;

    if (ev->depth == 1) {
        ev->in_data = 0;

    } else if (ev->depth == 0) {
        ev->done = 1;
    }

    return 1;
}


static int
ngx_http_smile_webhook_on_map_key(void *ctx, const unsigned char *key,
    size_t len)
{
    unsigned                             bit;
    const ngx_http_smile_webhook_key_t  *k;
    ngx_http_smile_webhook_event_t      *ev = ctx;

    ev->field = NGX_SMILE_F_NONE;

    if (ev->depth == 1) {
        k = ngx_http_smile_webhook_top_keys;

    } else if (ev->depth == 2 && ev->in_data) {
        k = ngx_http_smile_webhook_data_keys;

    } else {
        return 1;
    }

    for ( /* void */ ; k->name; k++) {
        if (k->len == len && memcmp(k->name, key, len) == 0) {
            break;
        }
    }

    if (k->name == NULL) {
        return 1;
    }

    bit = 1u << k->field;

    if (ev->seen & bit) {
        return ngx_http_smile_webhook_fail(ev, "duplicate key in event");
    }

    ev->seen |= bit;
    ev->field = k->field;

    return 1;
}
