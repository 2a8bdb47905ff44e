
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * Directives, configuration and the module definition.  The request path
 * starts in _handler.c.
 */


#include "ngx_http_smile_webhook_module.h"


static void *ngx_http_smile_webhook_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_smile_webhook_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_smile_webhook_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_smile_webhook_merge_allow(ngx_conf_t *cf,
    ngx_http_smile_webhook_loc_conf_t *prev,
    ngx_http_smile_webhook_loc_conf_t *conf);
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
static ngx_int_t ngx_http_smile_webhook_init_process(ngx_cycle_t *cycle);
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

    { ngx_string("smile_webhook_spool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_smile_webhook_spool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smile_webhook_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_smile_webhook_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
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
    ngx_http_smile_webhook_init_process,   /* init process */
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
    conf->spool = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_smile_webhook_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_smile_webhook_loc_conf_t *prev = parent;
    ngx_http_smile_webhook_loc_conf_t *conf = child;

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

    if (ngx_http_smile_webhook_merge_allow(cf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_smile_webhook_spool_merge(cf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
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


/*
 * The allow list, inherited whole; Smile's address when no level sets
 * one.  "all" is kept in the list as a cidr of family AF_UNSPEC, and
 * looked for once here rather than per request.
 */

static ngx_int_t
ngx_http_smile_webhook_merge_allow(ngx_conf_t *cf,
    ngx_http_smile_webhook_loc_conf_t *prev,
    ngx_http_smile_webhook_loc_conf_t *conf)
{
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (conf->allow == NGX_CONF_UNSET_PTR) {

        if (prev->allow == NGX_CONF_UNSET_PTR) {
            prev->allow = ngx_array_create(cf->pool, 1, sizeof(ngx_cidr_t));
            if (prev->allow == NULL) {
                return NGX_ERROR;
            }

            cidr = ngx_array_push(prev->allow);
            if (cidr == NULL) {
                return NGX_ERROR;
            }

            if (ngx_ptocidr(&ngx_http_smile_webhook_default_allow, cidr)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        conf->allow = prev->allow;
    }

    cidr = conf->allow->elts;

    for (i = 0; i < conf->allow->nelts; i++) {
        if (cidr[i].family == AF_UNSPEC) {
            conf->allow_all = 1;
        }
    }

    return NGX_OK;
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
                           "empty secret in \"%V\" directive", &cmd->name);
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&name);

    if (cf->args->nelts == 3) {
        if (value[2].len <= 5
            || ngx_strncmp(value[2].data, "name=", 5) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\" directive, "
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


/* smile_webhook_secret_file PATH: one secret a line */

static char *
ngx_http_smile_webhook_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smile_webhook_loc_conf_t *swlcf = conf;

    u_char      *p, *last, *eol, *end;
    ngx_str_t   *value, path, text, name;
    ngx_int_t    rc;
    ngx_uint_t   line, found;

    value = cf->args->elts;
    path = value[1];

    if (path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty path in \"%V\" directive", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_smile_webhook_read_file(cf, &cmd->name, &path, &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (text.len >= 3 && ngx_strncmp(text.data, "\xef\xbb\xbf", 3) == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "file \"%s\" of the \"%V\" directive starts "
                           "with a UTF-8 byte order mark, which is taken as "
                           "part of the first secret", path.data, &cmd->name);
    }

    /* empty lines and lines starting with "#" are skipped */

    rc = NGX_OK;
    found = 0;
    line = 0;
    last = text.data + text.len;

    for (p = text.data; p < last && rc == NGX_OK; p = eol + 1) {

        line++;

        eol = ngx_strlchr(p, last, LF);
        if (eol == NULL) {
            eol = last;
        }

        end = (eol > p && eol[-1] == CR) ? eol - 1 : eol;

        if (end == p || *p == '#') {
            continue;
        }

        name.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN + 5);
        if (name.data == NULL) {
            rc = NGX_ERROR;
            break;
        }

        name.len = ngx_sprintf(name.data, "line%ui", line) - name.data;

        rc = ngx_http_smile_webhook_add_secret(cf, swlcf, p, end - p, &name);
        found++;
    }

    ngx_explicit_memzero(text.data, text.len);

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (found == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "file \"%s\" of the \"%V\" directive holds no "
                           "secret", path.data, &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a small file read whole at configuration time, into the temp pool */

ngx_int_t
ngx_http_smile_webhook_read_file(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *path, ngx_str_t *text)
{
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", path->data);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.fd = fd;
    file.name = *path;
    file.log = cf->log;

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", path->data);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > 65536) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "file \"%s\" of the \"%V\" directive is larger "
                           "than 64k", path->data, directive);
        goto done;
    }

    text->data = ngx_pnalloc(cf->temp_pool, size + 1);
    if (text->data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, text->data, size, 0);

    if (n == NGX_ERROR || (size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_file_n " \"%s\" failed", path->data);
        ngx_explicit_memzero(text->data, size);
        goto done;
    }

    text->len = size;
    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", path->data);
    }

    return rc;
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
                           "invalid address or CIDR \"%V\" in \"%V\" directive",
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

    /* the app would never see it: X-Smile-* headers are removed */

    if (ngx_http_smile_webhook_is_smile_header(value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid header name \"%V\" in \"%V\" directive, "
                           "X-Smile-* request headers are removed before "
                           "the request goes upstream", &value[1],
                           &cmd->name);
        return NGX_CONF_ERROR;
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
                       "invalid header name \"%V\" in \"%V\" directive",
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
                               "types in \"%V\" directive", &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (!smile_is_type(value[i].data, value[i].len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid event type \"%V\" in \"%V\" directive, "
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
                               "event type \"%V\" in \"%V\" directive is "
                               "not in Smile's event catalogue", &value[i],
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
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a time of at least one second, or "
                           "\"off\"",
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
                       "invalid parameter \"%V\" in \"%V\" directive",
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
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    swmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_smile_webhook_module);

    if (ngx_http_smile_webhook_dedupe_init(cf, swmcf) != NGX_OK
        || ngx_http_smile_webhook_spool_init(cf, swmcf) != NGX_OK
        || ngx_http_smile_webhook_status_init(cf, swmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_smile_webhook_handler_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_smile_webhook_body_init(cf);
}


/* a connection to Redis in each process that serves or replays */

static ngx_int_t
ngx_http_smile_webhook_init_process(ngx_cycle_t *cycle)
{
    ngx_http_smile_webhook_main_conf_t  *swmcf;

    swmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                ngx_http_smile_webhook_module);

    if (swmcf == NULL || swmcf->redis == NULL) {
        return NGX_OK;
    }

    return ngx_http_smile_webhook_redis_init_process(cycle, swmcf->redis);
}


/*
 * The HMAC and the parser keep a few contexts per process for the next
 * request; they go before the module is unloaded, as does the connection
 * to Redis.
 */

static void
ngx_http_smile_webhook_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_smile_webhook_redis_exit_process();
    smile_exit();
}
