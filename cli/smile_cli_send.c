
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * smile-webhook send and examples: Smile's example events (embedded at
 * build time), "--fresh" rewriting of id and createdAt, and the POSTs,
 * made with libcurl.
 */


#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/rand.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "smile_cli.h"


#ifndef SMILE_CLI_VERSION
#define SMILE_CLI_VERSION  "unknown"
#endif

#define SMILE_CLI_RESULT_HEADER     "X-Smile-Webhook-Result"
#define SMILE_CLI_RESULT_MAX        64
#define SMILE_CLI_DEFAULT_TIMEOUT   10


/* one event to send: an example or a file */
typedef struct {
    const char                 *source;     /* a file name, or NULL */
    const unsigned char        *data;
    size_t                      len;
    smile_cli_buf_t             own;        /* a file's or a fresh body */
} smile_cli_item_t;


typedef struct {
    const char                 *secret_file;
    const char                 *header;
    const char                 *cacert;
    const char                 *types[SMILE_CLI_MAX_TYPES];
    size_t                      ntypes;
    long long                   timeout;
    unsigned                    all:1;
    unsigned                    fresh:1;
    unsigned                    insecure:1;
} smile_cli_send_conf_t;


/* the state of one answer */
typedef struct {
    char                        result[SMILE_CLI_RESULT_MAX];
} smile_cli_answer_t;


/* --fresh: yajl events copied to a generator, two values replaced */
typedef struct {
    yajl_gen                    gen;
    unsigned                    depth;
    unsigned                    key;        /* 1 "id", 2 "createdAt" */
    unsigned                    seen;
    unsigned                    skip;       /* a replaced value's nesting */
    unsigned                    object:1;
    const char                 *id;
    const char                 *created_at;
} smile_cli_fresh_t;


static int smile_cli_items(const smile_cli_command_t *cmd,
    smile_cli_send_conf_t *conf, char **files, size_t nfiles,
    smile_cli_item_t **items, size_t *nitems);
static int smile_cli_add_example(smile_cli_item_t **items, size_t *nitems,
    const smile_cli_example_t *ex);
static void smile_cli_items_free(smile_cli_item_t *items, size_t nitems);
static int smile_cli_check_url(const smile_cli_command_t *cmd,
    const char *url);
static int smile_cli_check_header(const char *name);
static int smile_cli_post(CURL *curl, const smile_cli_send_conf_t *conf,
    const smile_cli_secret_t *secret, const smile_cli_item_t *item,
    long *status, smile_cli_answer_t *answer, char *errbuf);
static int smile_cli_curl_exit(CURLcode rc);
static size_t smile_cli_header(char *buf, size_t size, size_t n,
    void *data);
static size_t smile_cli_discard(char *buf, size_t size, size_t n,
    void *data);
static void smile_cli_describe(const unsigned char *p, size_t len,
    char *type, char *id);
static int smile_cli_fresh(const unsigned char *p, size_t len,
    smile_cli_buf_t *out);
static int smile_cli_fresh_value(smile_cli_fresh_t *f, int container);
static int smile_cli_fresh_null(void *ctx);
static int smile_cli_fresh_boolean(void *ctx, int v);
static int smile_cli_fresh_number(void *ctx, const char *s, size_t len);
static int smile_cli_fresh_string(void *ctx, const unsigned char *s,
    size_t len);
static int smile_cli_fresh_start_map(void *ctx);
static int smile_cli_fresh_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int smile_cli_fresh_end_map(void *ctx);
static int smile_cli_fresh_start_array(void *ctx);
static int smile_cli_fresh_end_array(void *ctx);





static const yajl_callbacks  smile_cli_fresh_callbacks = {
    smile_cli_fresh_null,
    smile_cli_fresh_boolean,
    NULL,
    NULL,
    smile_cli_fresh_number,
    smile_cli_fresh_string,
    smile_cli_fresh_start_map,
    smile_cli_fresh_map_key,
    smile_cli_fresh_end_map,
    smile_cli_fresh_start_array,
    smile_cli_fresh_end_array
};


int
smile_cli_send(const smile_cli_command_t *cmd, int argc, char **argv)
{
    int                     c, rc;
    long                    status;
    char                   *url, type[SMILE_TYPE_MAX + 1];
    char                    id[SMILE_ID_MAX + 1];
    char                    errbuf[CURL_ERROR_SIZE];
    CURL                   *curl;
    size_t                  i, nitems, good;
    smile_cli_item_t       *items;
    smile_cli_answer_t      answer;
    smile_cli_secrets_t     secrets;
    smile_cli_send_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.header = SMILE_CLI_DEFAULT_HEADER;
    conf.timeout = SMILE_CLI_DEFAULT_TIMEOUT;


    while ((c = getopt_long(argc, argv, "", cmd->options, NULL))
           != -1)
    {
        switch (c) {

        case SMILE_CLI_OPT_ALL:
            conf.all = 1;
            break;

        case SMILE_CLI_OPT_TYPE:
            if (conf.ntypes == SMILE_CLI_MAX_TYPES) {
                return smile_cli_usage(cmd, "too many --type options");
            }

            if (smile_cli_upper_type(optarg, optarg, strlen(optarg) + 1)
                != 0)
            {
                return smile_cli_usage(cmd, "invalid event type \"%s\": 1 "
                                       "to 64 of A-Z, 0-9 and _", optarg);
            }

            conf.types[conf.ntypes++] = optarg;
            break;

        case SMILE_CLI_OPT_FRESH:
            conf.fresh = 1;
            break;

        case SMILE_CLI_OPT_SECRET_FILE:
            conf.secret_file = optarg;
            break;

        case SMILE_CLI_OPT_HEADER:
            if (smile_cli_check_header(optarg) != 0) {
                return smile_cli_usage(cmd, "invalid header name \"%s\"",
                                       optarg);
            }

            conf.header = optarg;
            break;

        case SMILE_CLI_OPT_TIMEOUT:
            if (smile_cli_parse_seconds(optarg, &conf.timeout) != 0
                || conf.timeout == 0)
            {
                return smile_cli_usage(cmd, "invalid --timeout \"%s\"",
                                       optarg);
            }
            break;

        case SMILE_CLI_OPT_CACERT:
            conf.cacert = optarg;
            break;

        case SMILE_CLI_OPT_INSECURE:
            conf.insecure = 1;
            break;

        default:
            return smile_cli_usage(cmd, "invalid options");
        }
    }

    if (optind == argc) {
        return smile_cli_usage(cmd, "no URL");
    }

    url = argv[optind++];

    if ((conf.all != 0) + (conf.ntypes != 0) + (optind < argc) != 1) {
        return smile_cli_usage(cmd, "give one of --all, --type TYPE or "
                               "FILE...");
    }

    rc = smile_cli_check_url(cmd, url);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    rc = smile_cli_items(cmd, &conf, argv + optind, argc - optind, &items,
                         &nitems);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    rc = smile_cli_secrets(conf.secret_file, &secrets);
    if (rc != SMILE_CLI_OK) {
        smile_cli_items_free(items, nitems);
        return rc;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK
        || (curl = curl_easy_init()) == NULL)
    {
        smile_cli_error("cannot initialize libcurl");
        smile_cli_secrets_free(&secrets);
        smile_cli_items_free(items, nitems);
        return SMILE_CLI_FAILURE;
    }

    curl_easy_setopt(curl, CURLOPT_URL, url);

    good = 0;

    for (i = 0; i < nitems; i++) {

        smile_cli_describe(items[i].data, items[i].len, type, id);

        rc = smile_cli_post(curl, &conf, &secrets.elts[0], &items[i],
                            &status, &answer, errbuf);

        if (rc != SMILE_CLI_OK) {
            smile_cli_error("send: %s %s: %s: %s", type, id,
                            rc == SMILE_CLI_UNREACHABLE
                            ? "the endpoint cannot be reached"
                            : (rc == SMILE_CLI_TLS ? "TLS failure"
                                                   : "the request failed"),
                            errbuf);
            break;
        }

        printf("%03ld %-19s %-28s %s%s%s\n", status,
               answer.result[0] ? answer.result : "-", type, id,
               items[i].source ? "  " : "",
               items[i].source ? items[i].source : "");

        if (status >= 200 && status < 300) {
            good++;
        }
    }

    if (rc == SMILE_CLI_OK) {
        printf("%zu sent, %zu answered 2xx, %zu did not\n", nitems, good,
               nitems - good);

        if (good != nitems) {
            rc = SMILE_CLI_REFUSED;
        }
    }

    curl_easy_cleanup(curl);
    curl_global_cleanup();

    smile_cli_secrets_free(&secrets);
    smile_cli_items_free(items, nitems);

    return rc;
}


/* the events to send, read and (with --fresh) rewritten before any POST */

static int
smile_cli_items(const smile_cli_command_t *cmd, smile_cli_send_conf_t *conf,
    char **files, size_t nfiles, smile_cli_item_t **items, size_t *nitems)
{
    int                   rc;
    char                  type[SMILE_TYPE_MAX + 1], id[SMILE_ID_MAX + 1];
    size_t                i, j, found;
    smile_cli_buf_t       fresh;
    smile_cli_item_t     *it;

    *items = NULL;
    *nitems = 0;
    rc = SMILE_CLI_OK;

    if (conf->all) {
        for (i = 0; i < smile_cli_nexamples && rc == SMILE_CLI_OK; i++) {
            rc = smile_cli_add_example(items, nitems, &smile_cli_examples[i]);
        }
    }

    for (j = 0; j < conf->ntypes && rc == SMILE_CLI_OK; j++) {

        found = 0;

        for (i = 0; i < smile_cli_nexamples && rc == SMILE_CLI_OK; i++) {
            smile_cli_describe(smile_cli_examples[i].data,
                               smile_cli_examples[i].len, type, id);

            if (strcmp(type, conf->types[j]) == 0) {
                rc = smile_cli_add_example(items, nitems,
                                           &smile_cli_examples[i]);
                found++;
            }
        }

        if (rc == SMILE_CLI_OK && found == 0) {
            smile_cli_items_free(*items, *nitems);
            return smile_cli_usage(cmd, "no example event of type \"%s\"; "
                                   "\"" SMILE_CLI_NAME " examples\" lists "
                                   "them", conf->types[j]);
        }
    }

    for (j = 0; j < nfiles && rc == SMILE_CLI_OK; j++) {

        it = realloc(*items, (*nitems + 1) * sizeof(smile_cli_item_t));
        if (it == NULL) {
            smile_cli_error("out of memory");
            rc = SMILE_CLI_FAILURE;
            break;
        }

        *items = it;
        it = &it[*nitems];
        memset(it, 0, sizeof(smile_cli_item_t));

        rc = smile_cli_read(files[j], &it->own);
        if (rc != SMILE_CLI_OK) {
            break;
        }

        (*nitems)++;

        it->source = strcmp(files[j], "-") ? files[j] : "(stdin)";
        it->data = it->own.data;
        it->len = it->own.len;
    }

    for (i = 0; i < *nitems && conf->fresh && rc == SMILE_CLI_OK; i++) {

        it = &(*items)[i];

        rc = smile_cli_fresh(it->data, it->len, &fresh);

        if (rc != SMILE_CLI_OK) {
            smile_cli_error("%s is not a JSON object, --fresh cannot "
                            "rewrite it", it->source ? it->source
                                                     : "an example");
            break;
        }

        smile_cli_buf_free(&it->own);
        it->own = fresh;
        it->data = fresh.data;
        it->len = fresh.len;
    }

    if (rc != SMILE_CLI_OK) {
        smile_cli_items_free(*items, *nitems);
        *items = NULL;
        *nitems = 0;
    }

    return rc;
}


static int
smile_cli_add_example(smile_cli_item_t **items, size_t *nitems,
    const smile_cli_example_t *ex)
{
    smile_cli_item_t  *it;

    it = realloc(*items, (*nitems + 1) * sizeof(smile_cli_item_t));
    if (it == NULL) {
        smile_cli_error("out of memory");
        return SMILE_CLI_FAILURE;
    }

    *items = it;
    it = &it[(*nitems)++];

    memset(it, 0, sizeof(smile_cli_item_t));
    it->data = ex->data;
    it->len = ex->len;

    return SMILE_CLI_OK;
}


static void
smile_cli_items_free(smile_cli_item_t *items, size_t nitems)
{
    size_t  i;

    for (i = 0; i < nitems; i++) {
        smile_cli_buf_free(&items[i].own);
    }

    free(items);
}


/* http:// or https://, parsed by libcurl, before anything is sent */

static int
smile_cli_check_url(const smile_cli_command_t *cmd, const char *url)
{
    int        rc;
    CURLU     *u;
    char      *scheme;
    CURLUcode  uc;

    u = curl_url();
    if (u == NULL) {
        smile_cli_error("out of memory");
        return SMILE_CLI_FAILURE;
    }

    scheme = NULL;

    uc = curl_url_set(u, CURLUPART_URL, url, 0);

    if (uc == CURLUE_OK) {
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    }

    if (uc != CURLUE_OK
        || (strcasecmp(scheme, "http") != 0
            && strcasecmp(scheme, "https") != 0))
    {
        rc = smile_cli_usage(cmd, "invalid URL \"%s\": an http:// or "
                             "https:// URL is expected", url);

    } else {
        rc = SMILE_CLI_OK;
    }

    curl_free(scheme);
    curl_url_cleanup(u);

    return rc;
}


/* as smile_webhook_signature_header accepts it */

static int
smile_cli_check_header(const char *name)
{
    const char  *p;

    if (*name == '\0') {
        return -1;
    }

    for (p = name; *p; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return -1;
        }
    }

    return 0;
}


static int
smile_cli_post(CURL *curl, const smile_cli_send_conf_t *conf,
    const smile_cli_secret_t *secret, const smile_cli_item_t *item,
    long *status, smile_cli_answer_t *answer, char *errbuf)
{
    int                 rc;
    char                hex[SMILE_SIG_HEX_LEN + 1];
    char                sig[SMILE_SIG_HEX_LEN + 128];
    CURLcode            cc;
    struct curl_slist  *headers, *h;

    rc = smile_cli_signature(secret, item->data, item->len, hex);
    if (rc != SMILE_CLI_OK) {
        snprintf(errbuf, CURL_ERROR_SIZE, "cannot sign");
        return rc;
    }

    snprintf(sig, sizeof(sig), "%s: %s", conf->header, hex);

    headers = NULL;

    h = curl_slist_append(headers, "Content-Type: application/json");
    h = h ? curl_slist_append(headers = h, sig) : NULL;
    h = h ? curl_slist_append(headers = h, "Expect:") : NULL;

    if (h == NULL) {
        curl_slist_free_all(headers);
        snprintf(errbuf, CURL_ERROR_SIZE, "out of memory");
        return SMILE_CLI_FAILURE;
    }

    headers = h;

    answer->result[0] = '\0';
    errbuf[0] = '\0';

    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT,
                     SMILE_CLI_NAME "/" SMILE_CLI_VERSION);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, item->data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) item->len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long) conf->timeout);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, smile_cli_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, answer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, smile_cli_discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

    if (conf->cacert) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, conf->cacert);
    }

    if (conf->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    cc = curl_easy_perform(curl);

    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);

    memset(sig, 0, sizeof(sig));

    if (cc != CURLE_OK) {
        if (errbuf[0] == '\0') {
            snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
        }

        return smile_cli_curl_exit(cc);
    }

    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);

    return SMILE_CLI_OK;
}


static int
smile_cli_curl_exit(CURLcode rc)
{
    switch (rc) {

    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return SMILE_CLI_UNREACHABLE;

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return SMILE_CLI_TLS;

    default:
        return SMILE_CLI_FAILURE;
    }
}


/* keeps X-Smile-Webhook-Result of the last response, printable only */

static size_t
smile_cli_header(char *buf, size_t size, size_t n, void *data)
{
    smile_cli_answer_t *answer = data;

    char    *p, *last;
    size_t   len, i;

    len = size * n;
    last = buf + len;

    if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
        answer->result[0] = '\0';
        return len;
    }

    if (len <= sizeof(SMILE_CLI_RESULT_HEADER)
        || strncasecmp(buf, SMILE_CLI_RESULT_HEADER ":",
                       sizeof(SMILE_CLI_RESULT_HEADER)) != 0)
    {
        return len;
    }

    p = buf + sizeof(SMILE_CLI_RESULT_HEADER);

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == '\r' || last[-1] == '\n'
                        || last[-1] == ' ' || last[-1] == '\t'))
    {
        last--;
    }

    for (i = 0; p < last && i < SMILE_CLI_RESULT_MAX - 1; p++) {
        answer->result[i++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
    }

    answer->result[i] = '\0';

    return len;
}


static size_t
smile_cli_discard(char *buf, size_t size, size_t n, void *data)
{
    return size * n;
}


/* the type and id of a body as the module's parser reads them, or "-" */

static void
smile_cli_describe(const unsigned char *p, size_t len, char *type, char *id)
{
    smile_event_t  ev;

    strcpy(type, "-");
    strcpy(id, "-");

    if (smile_event_init(&ev) != 0) {
        return;
    }

    if (len) {
        smile_event_feed(&ev, p, len);
    }

    if (smile_event_finish(&ev) == 0) {
        memcpy(type, ev.type.data, ev.type.len);
        type[ev.type.len] = '\0';
        memcpy(id, ev.id.data, ev.id.len);
        id[ev.id.len] = '\0';
    }

    smile_event_free(&ev);
}


int
smile_cli_examples_cmd(const smile_cli_command_t *cmd, int argc,
    char **argv)
{
    int                   c, fresh, rc;
    char                  want[SMILE_TYPE_MAX + 1];
    char                  type[SMILE_TYPE_MAX + 1], id[SMILE_ID_MAX + 1];
    size_t                i;
    smile_cli_buf_t       body;
    const smile_cli_example_t  *ex;

    fresh = 0;

    while ((c = getopt_long(argc, argv, "", cmd->options, NULL))
           != -1)
    {
        switch (c) {

        case SMILE_CLI_OPT_FRESH:
            fresh = 1;
            break;

        default:
            return smile_cli_usage(cmd, "invalid options");
        }
    }

    if (argc - optind > 1) {
        return smile_cli_usage(cmd, "one TYPE at most");
    }

    if (argc == optind) {
        for (i = 0; i < smile_cli_nexamples; i++) {
            ex = &smile_cli_examples[i];
            smile_cli_describe(ex->data, ex->len, type, id);
            printf("%-28s %-36s %5zu  %s\n", type, id, ex->len, ex->name);
        }

        return SMILE_CLI_OK;
    }

    if (smile_cli_upper_type(argv[optind], want, sizeof(want)) != 0) {
        return smile_cli_usage(cmd, "invalid event type \"%s\"",
                               argv[optind]);
    }

    for (i = 0; i < smile_cli_nexamples; i++) {
        ex = &smile_cli_examples[i];
        smile_cli_describe(ex->data, ex->len, type, id);

        if (strcmp(type, want) != 0) {
            continue;
        }

        if (!fresh) {
            fwrite(ex->data, 1, ex->len, stdout);
            return SMILE_CLI_OK;
        }

        rc = smile_cli_fresh(ex->data, ex->len, &body);
        if (rc != SMILE_CLI_OK) {
            smile_cli_error("cannot rewrite the example");
            return rc;
        }

        fwrite(body.data, 1, body.len, stdout);
        smile_cli_buf_free(&body);

        return SMILE_CLI_OK;
    }

    return smile_cli_usage(cmd, "no example event of type \"%s\"", want);
}


/*
 * A copy of a JSON object with a new top-level "id" and "createdAt" (added
 * when missing), written by yajl's generator, two-space indented.
 */

static int
smile_cli_fresh(const unsigned char *p, size_t len, smile_cli_buf_t *out)
{
    int                   rc;
    char                  id[64], created[32];
    size_t                i, glen;
    time_t                now;
    struct tm             tm;
    yajl_handle           y;
    smile_cli_fresh_t     f;
    unsigned char         rnd[16];
    const unsigned char  *buf;

    static const char  digits[] = "0123456789abcdef";

    out->data = NULL;
    out->len = 0;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return SMILE_CLI_FAILURE;
    }

    memcpy(id, "smile-webhook-", sizeof("smile-webhook-") - 1);

    for (i = 0; i < sizeof(rnd); i++) {
        id[sizeof("smile-webhook-") - 1 + 2 * i] = digits[rnd[i] >> 4];
        id[sizeof("smile-webhook-") + 2 * i] = digits[rnd[i] & 0x0f];
    }

    id[sizeof("smile-webhook-") - 1 + 2 * sizeof(rnd)] = '\0';

    now = time(NULL);

    if (gmtime_r(&now, &tm) == NULL
        || strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm)
           == 0)
    {
        return SMILE_CLI_FAILURE;
    }

    memset(&f, 0, sizeof(f));
    f.id = id;
    f.created_at = created;

    f.gen = yajl_gen_alloc(NULL);
    if (f.gen == NULL) {
        return SMILE_CLI_FAILURE;
    }

    yajl_gen_config(f.gen, yajl_gen_beautify, 1);
    yajl_gen_config(f.gen, yajl_gen_indent_string, "  ");

    y = yajl_alloc(&smile_cli_fresh_callbacks, NULL, &f);
    if (y == NULL) {
        yajl_gen_free(f.gen);
        return SMILE_CLI_FAILURE;
    }

    rc = SMILE_CLI_NOINPUT;

    if (yajl_parse(y, p, len) == yajl_status_ok
        && yajl_complete_parse(y) == yajl_status_ok
        && f.object
        && yajl_gen_get_buf(f.gen, &buf, &glen) == yajl_gen_status_ok)
    {
        /* a final newline, as Smile's examples have */

        out->data = malloc(glen + 1);

        if (out->data) {
            memcpy(out->data, buf, glen);
            out->data[glen] = '\n';
            out->len = glen + 1;
            rc = SMILE_CLI_OK;

        } else {
            rc = SMILE_CLI_FAILURE;
        }
    }

    yajl_free(y);
    yajl_gen_free(f.gen);

    return rc;
}


/* 1: copy the value; 0: it was replaced, or is inside a replaced one */

static int
smile_cli_fresh_value(smile_cli_fresh_t *f, int container)
{
    const char  *s;

    if (f->skip) {
        f->skip += container;
        return 0;
    }

    if (f->depth == 0 && !container) {
        return 1;
    }

    if (f->depth == 1 && f->key) {
        s = (f->key == 1) ? f->id : f->created_at;
        yajl_gen_string(f->gen, (const unsigned char *) s, strlen(s));

        f->seen |= f->key;
        f->key = 0;
        f->skip = container;

        return 0;
    }

    return 1;
}


static int
smile_cli_fresh_null(void *ctx)
{
    smile_cli_fresh_t *f = ctx;

    if (smile_cli_fresh_value(f, 0)) {
        yajl_gen_null(f->gen);
    }

    return 1;
}


static int
smile_cli_fresh_boolean(void *ctx, int v)
{
    smile_cli_fresh_t *f = ctx;

    if (smile_cli_fresh_value(f, 0)) {
        yajl_gen_bool(f->gen, v);
    }

    return 1;
}


static int
smile_cli_fresh_number(void *ctx, const char *s, size_t len)
{
    smile_cli_fresh_t *f = ctx;

    if (smile_cli_fresh_value(f, 0)) {
        yajl_gen_number(f->gen, s, len);
    }

    return 1;
}


static int
smile_cli_fresh_string(void *ctx, const unsigned char *s, size_t len)
{
    smile_cli_fresh_t *f = ctx;

    if (smile_cli_fresh_value(f, 0)) {
        yajl_gen_string(f->gen, s, len);
    }

    return 1;
}


static int
smile_cli_fresh_start_map(void *ctx)
{
    smile_cli_fresh_t *f = ctx;

    if (smile_cli_fresh_value(f, 1)) {
        if (f->depth == 0) {
            f->object = 1;
        }

        f->depth++;
        yajl_gen_map_open(f->gen);
    }

    return 1;
}


static int
smile_cli_fresh_map_key(void *ctx, const unsigned char *s, size_t len)
{
    smile_cli_fresh_t *f = ctx;

    if (f->skip) {
        return 1;
    }

    if (f->depth == 1) {
        f->key = 0;

        if (len == 2 && memcmp(s, "id", 2) == 0) {
            f->key = 1;

        } else if (len == 9 && memcmp(s, "createdAt", 9) == 0) {
            f->key = 2;
        }
    }

    yajl_gen_string(f->gen, s, len);

    return 1;
}


static int
smile_cli_fresh_end_map(void *ctx)
{
    smile_cli_fresh_t *f = ctx;

    if (f->skip) {
        f->skip--;
        return 1;
    }

    if (f->depth == 1) {
        if (!(f->seen & 1)) {
            yajl_gen_string(f->gen, (const unsigned char *) "id", 2);
            yajl_gen_string(f->gen, (const unsigned char *) f->id,
                            strlen(f->id));
        }

        if (!(f->seen & 2)) {
            yajl_gen_string(f->gen, (const unsigned char *) "createdAt", 9);
            yajl_gen_string(f->gen, (const unsigned char *) f->created_at,
                            strlen(f->created_at));
        }
    }

    f->depth--;
    yajl_gen_map_close(f->gen);

    return 1;
}


static int
smile_cli_fresh_start_array(void *ctx)
{
    smile_cli_fresh_t *f = ctx;

    if (smile_cli_fresh_value(f, 1)) {
        f->depth++;
        yajl_gen_array_open(f->gen);
    }

    return 1;
}


static int
smile_cli_fresh_end_array(void *ctx)
{
    smile_cli_fresh_t *f = ctx;

    if (f->skip) {
        f->skip--;
        return 1;
    }

    f->depth--;
    yajl_gen_array_close(f->gen);

    return 1;
}
