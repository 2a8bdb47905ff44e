
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The $smile_* variables.  Event fields are set only for a request whose
 * signature matched a configured secret.
 */


#include "ngx_http_smile_webhook_module.h"


static ngx_http_smile_webhook_ctx_t *ngx_http_smile_webhook_var_ctx(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_smile_webhook_event_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_smile_webhook_result_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_smile_webhook_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_smile_webhook_vars[] = {

    { ngx_string("smile_event_id"), NULL,
      ngx_http_smile_webhook_event_variable,
      offsetof(smile_event_t, id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smile_event_type"), NULL,
      ngx_http_smile_webhook_event_variable,
      offsetof(smile_event_t, type),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smile_event_version"), NULL,
      ngx_http_smile_webhook_event_variable,
      offsetof(smile_event_t, version),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smile_event_created_at"), NULL,
      ngx_http_smile_webhook_event_variable,
      offsetof(smile_event_t, created_at),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smile_user_id"), NULL,
      ngx_http_smile_webhook_event_variable,
      offsetof(smile_event_t, user_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smile_account_id"), NULL,
      ngx_http_smile_webhook_event_variable,
      offsetof(smile_event_t, account_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smile_webhook_result"), NULL,
      ngx_http_smile_webhook_result_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smile_webhook_key"), NULL,
      ngx_http_smile_webhook_key_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_smile_webhook_event_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    smile_field_t                 *f;
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_smile_webhook_var_ctx(r);

    if (ctx == NULL || ctx->matched == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    f = (smile_field_t *) ((u_char *) &ctx->event + data);

    if (f->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = f->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = f->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                     *name;
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_smile_webhook_var_ctx(r);

    if (ctx == NULL || ctx->result == NGX_HTTP_SMILE_WEBHOOK_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = &ngx_http_smile_webhook_results[ctx->result].name;

    v->len = name->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = name->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_smile_webhook_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_smile_webhook_var_ctx(r);

    if (ctx == NULL || ctx->matched == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->matched->name.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ctx->matched->name.data;

    return NGX_OK;
}


/* the request's own verdict, or else its main request's */

static ngx_http_smile_webhook_ctx_t *
ngx_http_smile_webhook_var_ctx(ngx_http_request_t *r)
{
    ngx_http_smile_webhook_ctx_t  *ctx;

    ctx = ngx_http_smile_webhook_get_ctx(r);

    if (ctx == NULL && r != r->main) {
        ctx = ngx_http_smile_webhook_get_ctx(r->main);
    }

    return ctx;
}


ngx_int_t
ngx_http_smile_webhook_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_smile_webhook_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
