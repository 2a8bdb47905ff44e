
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * smile-webhook sign and verify.  The verdict is reached with the module's
 * own functions (smile_sig_decode, smile_hmac_*, smile_sig_equal,
 * smile_event_*, smile_parse_time), in the order of the module's handler:
 * the header, the HMAC against every secret, the event, then the type
 * filter and the age of createdAt.
 */


#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "smile_cli.h"


typedef struct {
    smile_cli_result_e          result;
    const char                 *reason;
    const smile_cli_secret_t   *matched;
    smile_event_t               event;
} smile_cli_verdict_t;


static int smile_cli_judge(smile_cli_verdict_t *v,
    const smile_cli_secrets_t *secrets, const char *sig, size_t nsigs,
    const smile_cli_buf_t *body, const smile_cli_policy_t *policy);
static smile_cli_result_e smile_cli_policy(smile_cli_verdict_t *v,
    const smile_cli_policy_t *policy);
static void smile_cli_print_verdict(const smile_cli_verdict_t *v);
static void smile_cli_print_field(const char *name,
    const smile_field_t *f);
static int smile_cli_add_types(const smile_cli_command_t *cmd,
    smile_cli_policy_t *policy, char *list);


/* as $smile_webhook_result holds them */

static const char  *smile_cli_result_names[] = {
    "ok",
    "missing_signature",
    "malformed_signature",
    "bad_signature",
    "malformed_event",
    "stale",
    "ignored"
};





int
smile_cli_sign(const smile_cli_command_t *cmd, int argc, char **argv)
{
    int                   c, rc;
    char                  hex[SMILE_SIG_HEX_LEN + 1];
    const char           *secret_file;
    smile_cli_buf_t       body;
    smile_cli_secrets_t   secrets;

    secret_file = NULL;

    while ((c = getopt_long(argc, argv, "", cmd->options, NULL))
           != -1)
    {
        switch (c) {

        case SMILE_CLI_OPT_SECRET_FILE:
            secret_file = optarg;
            break;

        default:
            return smile_cli_usage(cmd, "invalid options");
        }
    }

    if (argc - optind > 1) {
        return smile_cli_usage(cmd, "one FILE at most");
    }

    rc = smile_cli_secrets(secret_file, &secrets);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    rc = smile_cli_read(argv[optind], &body);

    if (rc == SMILE_CLI_OK) {
        rc = smile_cli_signature(&secrets.elts[0], body.data, body.len, hex);
    }

    if (rc == SMILE_CLI_OK) {
        printf("%s\n", hex);
    }

    smile_cli_buf_free(&body);
    smile_cli_secrets_free(&secrets);

    return rc;
}


/* the signature of a body, as 128 lowercase hex digits */

int
smile_cli_signature(const smile_cli_secret_t *secret,
    const unsigned char *p, size_t len, char *hex)
{
    int            rc;
    size_t         i;
    smile_hmac_t   h;
    unsigned char  mac[SMILE_SIG_LEN];

    static const char  digits[] = "0123456789abcdef";

    memset(&h, 0, sizeof(h));

    rc = smile_hmac_start(&h, &secret->key);

    if (rc == 0 && len) {
        rc = smile_hmac_update(&h, p, len);
    }

    if (rc == 0) {
        rc = smile_hmac_final(&h, &secret->key, mac);
    }

    smile_hmac_free(&h);

    if (rc != 0) {
        smile_cli_error("HMAC-SHA512 failed");
        return SMILE_CLI_FAILURE;
    }

    for (i = 0; i < SMILE_SIG_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0x0f];
    }

    hex[SMILE_SIG_HEX_LEN] = '\0';

    OPENSSL_cleanse(mac, sizeof(mac));

    return SMILE_CLI_OK;
}


int
smile_cli_verify(const smile_cli_command_t *cmd, int argc, char **argv)
{
    int                   c, rc;
    size_t                nsigs;
    const char           *secret_file, *sig, *now;
    smile_cli_buf_t       body;
    smile_cli_policy_t    policy;
    smile_cli_verdict_t   v;
    smile_cli_secrets_t   secrets;

    secret_file = NULL;
    sig = NULL;
    now = NULL;
    nsigs = 0;

    memset(&policy, 0, sizeof(policy));
    policy.skew = -1;


    while ((c = getopt_long(argc, argv, "", cmd->options, NULL))
           != -1)
    {
        switch (c) {

        case SMILE_CLI_OPT_SIGNATURE:
            if (nsigs++ == 0) {
                sig = optarg;
            }
            break;

        case SMILE_CLI_OPT_SECRET_FILE:
            secret_file = optarg;
            break;

        case SMILE_CLI_OPT_EVENTS:
            rc = smile_cli_add_types(cmd, &policy, optarg);
            if (rc != SMILE_CLI_OK) {
                return rc;
            }
            break;

        case SMILE_CLI_OPT_MAX_AGE:
            if (smile_cli_parse_seconds(optarg, &policy.max_age) != 0) {
                return smile_cli_usage(cmd, "invalid --max-age \"%s\"",
                                       optarg);
            }
            break;

        case SMILE_CLI_OPT_SKEW:
            if (smile_cli_parse_seconds(optarg, &policy.skew) != 0) {
                return smile_cli_usage(cmd, "invalid --skew \"%s\"",
                                       optarg);
            }
            break;

        case SMILE_CLI_OPT_NOW:
            now = optarg;
            if (smile_cli_parse_now(optarg, &policy.now) != 0) {
                return smile_cli_usage(cmd, "invalid --now \"%s\": an RFC "
                                       "3339 time or @SECONDS", optarg);
            }
            break;

        default:
            return smile_cli_usage(cmd, "invalid options");
        }
    }

    if (argc - optind > 1) {
        return smile_cli_usage(cmd, "one FILE at most");
    }

    if (policy.max_age == 0 && (policy.skew != -1 || now)) {
        return smile_cli_usage(cmd, "--skew and --now need --max-age");
    }

    if (policy.skew == -1) {
        policy.skew = SMILE_CLI_DEFAULT_SKEW;
    }

    if (now == NULL) {
        policy.now = (long long) time(NULL);
    }

    rc = smile_cli_secrets(secret_file, &secrets);
    if (rc != SMILE_CLI_OK) {
        return rc;
    }

    rc = smile_cli_read(argv[optind], &body);

    if (rc == SMILE_CLI_OK) {
        rc = smile_cli_judge(&v, &secrets, sig, nsigs, &body, &policy);

        if (rc == SMILE_CLI_OK) {
            smile_cli_print_verdict(&v);

            if (v.result != SMILE_CLI_RESULT_OK) {
                rc = SMILE_CLI_REFUSED;
            }
        }

        smile_event_free(&v.event);
    }

    smile_cli_buf_free(&body);
    smile_cli_secrets_free(&secrets);

    return rc;
}


/* --events USER_CREATED,ACCOUNT_CREATED (may be repeated) */

static int
smile_cli_add_types(const smile_cli_command_t *cmd,
    smile_cli_policy_t *policy, char *list)
{
    char  *type, *next;

    for (type = list; type; type = next) {

        next = strchr(type, ',');
        if (next) {
            *next++ = '\0';
        }

        if (smile_cli_upper_type(type, type, strlen(type) + 1) != 0) {
            return smile_cli_usage(cmd, "invalid event type \"%s\" in "
                                   "--events: 1 to 64 of A-Z, 0-9 and _",
                                   type);
        }

        if (policy->ntypes == SMILE_CLI_MAX_TYPES) {
            return smile_cli_usage(cmd, "more than %d types in --events",
                                   SMILE_CLI_MAX_TYPES);
        }

        policy->types[policy->ntypes++] = type;
    }

    return SMILE_CLI_OK;
}


/*
 * The module's handler, precheck, check and policy, on a body held in
 * memory: returns SMILE_CLI_OK with the verdict in v, or an exit code
 * when OpenSSL fails.  v->event is to be freed by the caller.
 */

static int
smile_cli_judge(smile_cli_verdict_t *v, const smile_cli_secrets_t *secrets,
    const char *sig, size_t nsigs, const smile_cli_buf_t *body,
    const smile_cli_policy_t *policy)
{
    int                  rc;
    size_t               i, len;
    smile_hmac_t         h;
    unsigned char        expected[SMILE_SIG_LEN], mac[SMILE_SIG_LEN];
    const unsigned char *p;

    memset(v, 0, sizeof(*v));

    /*
     * the header as nginx's HTTP/1 parser hands it over: spaces around the
     * value dropped, tabs kept
     */

    if (nsigs == 0) {
        v->result = SMILE_CLI_RESULT_MISSING_SIGNATURE;
        v->reason = "no signature header";
        return SMILE_CLI_OK;
    }

    p = (const unsigned char *) sig;
    len = strlen(sig);

    while (len && *p == ' ') {
        p++;
        len--;
    }

    while (len && p[len - 1] == ' ') {
        len--;
    }

    if (nsigs > 1 || smile_sig_decode(p, len, expected) != 0) {
        v->result = SMILE_CLI_RESULT_MALFORMED_SIGNATURE;
        v->reason = "signature header is repeated or not 128 hex digits";
        return SMILE_CLI_OK;
    }

    /* the body, through every secret's HMAC and the event parser */

    if (smile_event_init(&v->event) != 0) {
        smile_cli_error("cannot start the event parser");
        return SMILE_CLI_FAILURE;
    }

    if (body->len) {
        smile_event_feed(&v->event, body->data, body->len);
    }

    for (i = 0; i < secrets->nelts; i++) {

        memset(&h, 0, sizeof(h));

        rc = smile_hmac_start(&h, &secrets->elts[i].key);

        if (rc == 0 && body->len) {
            rc = smile_hmac_update(&h, body->data, body->len);
        }

        if (rc == 0) {
            rc = smile_hmac_final(&h, &secrets->elts[i].key, mac);
        }

        smile_hmac_free(&h);

        if (rc != 0) {
            OPENSSL_cleanse(mac, sizeof(mac));
            smile_cli_error("HMAC-SHA512 failed");
            return SMILE_CLI_FAILURE;
        }

        if (smile_sig_equal(mac, expected) && v->matched == NULL) {
            v->matched = &secrets->elts[i];
        }
    }

    OPENSSL_cleanse(mac, sizeof(mac));

    rc = smile_event_finish(&v->event);

    if (v->matched == NULL) {
        v->result = SMILE_CLI_RESULT_BAD_SIGNATURE;
        v->reason = "no configured secret matches the signature";
        return SMILE_CLI_OK;
    }

    if (rc != 0) {
        v->result = SMILE_CLI_RESULT_MALFORMED_EVENT;
        v->reason = v->event.error ? v->event.error : "invalid event";
        return SMILE_CLI_OK;
    }

    v->result = smile_cli_policy(v, policy);

    return SMILE_CLI_OK;
}


/* the checks on an authentic event: the type filter, then the age */

static smile_cli_result_e
smile_cli_policy(smile_cli_verdict_t *v, const smile_cli_policy_t *policy)
{
    size_t          i;
    long long       created;
    smile_event_t  *ev;

    ev = &v->event;

    if (policy->ntypes) {

        for (i = 0; i < policy->ntypes; i++) {
            if (strlen(policy->types[i]) == ev->type.len
                && memcmp(policy->types[i], ev->type.data, ev->type.len)
                   == 0)
            {
                break;
            }
        }

        if (i == policy->ntypes) {
            v->reason = "event type is not in smile_webhook_events";
            return SMILE_CLI_RESULT_IGNORED;
        }
    }

    if (policy->max_age) {

        if (ev->created_at.len == 0
            || smile_parse_time(ev->created_at.data, ev->created_at.len,
                                &created)
               != 0)
        {
            v->reason = "createdAt is missing or not an RFC 3339 time, "
                        "and smile_webhook_max_age is set";
            return SMILE_CLI_RESULT_MALFORMED_EVENT;
        }

        if (created < policy->now - policy->max_age) {
            v->reason = "createdAt is older than smile_webhook_max_age";
            return SMILE_CLI_RESULT_STALE;
        }

        if (created > policy->now + policy->skew) {
            v->reason = "createdAt is in the future by more than the "
                        "allowed clock skew";
            return SMILE_CLI_RESULT_STALE;
        }
    }

    return SMILE_CLI_RESULT_OK;
}


/* the result; the reason; the fields the module's variables would hold */

static void
smile_cli_print_verdict(const smile_cli_verdict_t *v)
{
    const smile_event_t  *ev;

    printf("%s\n", smile_cli_result_names[v->result]);

    if (v->result != SMILE_CLI_RESULT_OK) {
        printf("reason: %s\n", v->reason);
    }

    if (v->matched == NULL) {
        return;
    }

    ev = &v->event;

    smile_cli_print_field("id", &ev->id);
    smile_cli_print_field("type", &ev->type);
    smile_cli_print_field("version", &ev->version);
    smile_cli_print_field("createdAt", &ev->created_at);
    smile_cli_print_field("userId", &ev->user_id);
    smile_cli_print_field("accountId", &ev->account_id);

    printf("key: %s\n", v->matched->name);
}


static void
smile_cli_print_field(const char *name, const smile_field_t *f)
{
    if (f->len) {
        printf("%s: %.*s\n", name, (int) f->len, (const char *) f->data);
    }
}
