
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * smile-webhook, the command that signs, verifies and sends Smile webhooks
 * with the module's own nginx-free code (../ngx_smile_webhook_module/smile),
 * and lists, shows, requeues and purges the records of a spool directory.
 * The header shared by its files.
 */


#ifndef _SMILE_CLI_H_INCLUDED_
#define _SMILE_CLI_H_INCLUDED_


#include <stddef.h>
#include <time.h>

#include "smile.h"


#define SMILE_CLI_NAME              "smile-webhook"

/* exit codes, documented in --help, the man page and README */
#define SMILE_CLI_OK                0
#define SMILE_CLI_REFUSED           1   /* verify: not ok; send: not 2xx;
                                           spool: no such record, refused */
#define SMILE_CLI_USAGE             2
#define SMILE_CLI_NOINPUT           3   /* a file or stdin cannot be used;
                                           spool: PATH or a record */
#define SMILE_CLI_BAD_SECRET        4
#define SMILE_CLI_UNREACHABLE       5
#define SMILE_CLI_TLS               6
#define SMILE_CLI_FAILURE           7   /* OpenSSL, memory, HTTP errors */

/* as smile_webhook_secret_file: larger files are refused */
#define SMILE_CLI_SECRET_MAX        65536
#define SMILE_CLI_SECRET_NAME       16

#define SMILE_CLI_ENV_SECRET        "SMILE_WEBHOOK_SECRET"
#define SMILE_CLI_DEFAULT_HEADER    "Smile-Signature"
#define SMILE_CLI_DEFAULT_SKEW      60
#define SMILE_CLI_MAX_TYPES         64


/* the long options of all commands, as getopt_long() returns them */
enum {
    SMILE_CLI_OPT_SECRET_FILE = 256,
    SMILE_CLI_OPT_SIGNATURE,
    SMILE_CLI_OPT_EVENTS,
    SMILE_CLI_OPT_MAX_AGE,
    SMILE_CLI_OPT_SKEW,
    SMILE_CLI_OPT_NOW,
    SMILE_CLI_OPT_ALL,
    SMILE_CLI_OPT_TYPE,
    SMILE_CLI_OPT_FRESH,
    SMILE_CLI_OPT_HEADER,
    SMILE_CLI_OPT_TIMEOUT,
    SMILE_CLI_OPT_CACERT,
    SMILE_CLI_OPT_INSECURE,
    SMILE_CLI_OPT_DEAD,
    SMILE_CLI_OPT_ALL_DEAD,
    SMILE_CLI_OPT_BODY,
    SMILE_CLI_OPT_HEADERS,
    SMILE_CLI_OPT_YES
};


struct option;

typedef struct smile_cli_command_s  smile_cli_command_t;

typedef int (*smile_cli_handler_pt)(const smile_cli_command_t *cmd,
    int argc, char **argv);

/*
 * A command: the handler gets argv from the command's name on, its options
 * checked already (see smile_cli_options()), and runs getopt_long() with
 * cmd->options.  A command of commands ("spool") has no handler but a
 * table of them, named "spool list" etc.
 */
struct smile_cli_command_s {
    const char                 *name;
    smile_cli_handler_pt        handler;
    const struct option        *options;
    const char                 *synopsis;
    const char                 *help;
    const smile_cli_command_t  *commands;
};


typedef struct {
    unsigned char              *data;
    size_t                      len;
} smile_cli_buf_t;


/* one secret, named as $smile_webhook_key would name it */
typedef struct {
    smile_hmac_key_t            key;
    char                        name[SMILE_CLI_SECRET_NAME];
} smile_cli_secret_t;

typedef struct {
    smile_cli_secret_t         *elts;
    size_t                      nelts;
} smile_cli_secrets_t;


/* the module's results, named as $smile_webhook_result holds them */
typedef enum {
    SMILE_CLI_RESULT_OK = 0,
    SMILE_CLI_RESULT_MISSING_SIGNATURE,
    SMILE_CLI_RESULT_MALFORMED_SIGNATURE,
    SMILE_CLI_RESULT_BAD_SIGNATURE,
    SMILE_CLI_RESULT_MALFORMED_EVENT,
    SMILE_CLI_RESULT_STALE,
    SMILE_CLI_RESULT_IGNORED
} smile_cli_result_e;


/* what smile_webhook_events and smile_webhook_max_age would configure */
typedef struct {
    const char                 *types[SMILE_CLI_MAX_TYPES];
    size_t                      ntypes;         /* 0: every type */
    long long                   max_age;        /* 0: off */
    long long                   skew;
    long long                   now;
} smile_cli_policy_t;


/* one of Smile's example events, embedded at build time */
typedef struct {
    const char                 *name;
    const unsigned char        *data;
    size_t                      len;
} smile_cli_example_t;

extern const smile_cli_example_t  smile_cli_examples[];
extern const size_t               smile_cli_nexamples;


extern const smile_cli_command_t  smile_cli_commands[];


#define SMILE_CLI_SPOOL_TIME_LEN    32
#define SMILE_CLI_SPOOL_AGE_LEN     24

/* a file of a spool, PATH or PATH/dead, named ev-RECEIVED-ATTEMPTS-ID */
typedef struct {
    long long                   received;
    unsigned long               attempts;
    long long                   size;
    size_t                      id;         /* where the id starts */
    unsigned                    dead:1;
    unsigned                    selected:1;
    char                        name[256];
} smile_cli_record_t;

typedef struct {
    const char                 *path;
    int                         dir;
    int                         dead;       /* PATH/dead, or -1 */
    smile_cli_record_t         *elts;
    size_t                      nelts;
    size_t                      nalloc;
    size_t                      temps;      /* tmp-* */
    size_t                      foreign;
} smile_cli_spool_t;

typedef struct {
    const unsigned char        *data;
    size_t                      len;
} smile_cli_str_t;

/* a record's lines, up to and with the blank one, and their values */
typedef struct {
    smile_cli_buf_t             buf;
    size_t                      len;        /* of the lines */
    long long                   body;
    long long                   time;       /* "received" */
    smile_cli_str_t             received;
    smile_cli_str_t             socket;
    smile_cli_str_t             host;
    smile_cli_str_t             uri;
    smile_cli_str_t             id;
    smile_cli_str_t             type;
    smile_cli_str_t             created_at;
    smile_cli_str_t             user_id;
    smile_cli_str_t             length;
} smile_cli_head_t;

/* the options of the spool commands */
typedef struct {
    unsigned                    dead:1;
    unsigned                    all:1;
    unsigned                    all_dead:1;
    unsigned                    body:1;
    unsigned                    signature:1;
    unsigned                    headers:1;
    unsigned                    yes:1;
    const char                 *header;
} smile_cli_spool_conf_t;


/* smile_cli.c */
void smile_cli_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
int smile_cli_usage(const smile_cli_command_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int smile_cli_help(const smile_cli_command_t *cmd);

/* smile_cli_input.c */
int smile_cli_read(const char *path, smile_cli_buf_t *buf);
void smile_cli_buf_free(smile_cli_buf_t *buf);
int smile_cli_secrets(const char *file, smile_cli_secrets_t *secrets);
void smile_cli_secrets_free(smile_cli_secrets_t *secrets);
int smile_cli_parse_seconds(const char *s, long long *out);
int smile_cli_parse_now(const char *s, long long *out);
int smile_cli_upper_type(const char *s, char *out, size_t size);

/* smile_cli_verify.c */
int smile_cli_sign(const smile_cli_command_t *cmd, int argc, char **argv);
int smile_cli_verify(const smile_cli_command_t *cmd, int argc, char **argv);
int smile_cli_signature(const smile_cli_secret_t *secret,
    const unsigned char *p, size_t len, char *hex);

/* smile_cli_send.c */
int smile_cli_send(const smile_cli_command_t *cmd, int argc, char **argv);
int smile_cli_examples_cmd(const smile_cli_command_t *cmd, int argc,
    char **argv);

/* smile_cli_record.c */
int smile_cli_spool_open(smile_cli_spool_t *sp, const char *path);
void smile_cli_spool_close(smile_cli_spool_t *sp);
int smile_cli_spool_name(const char *name, smile_cli_record_t *rec);
int smile_cli_spool_head(smile_cli_spool_t *sp, smile_cli_record_t *rec,
    smile_cli_head_t *h, int quiet);
void smile_cli_spool_print_head(smile_cli_spool_t *sp,
    const smile_cli_record_t *rec, const smile_cli_head_t *h,
    const smile_cli_spool_conf_t *conf, long long now);
int smile_cli_spool_print_body(smile_cli_spool_t *sp,
    const smile_cli_record_t *rec, const smile_cli_head_t *h);
void smile_cli_spool_print(const unsigned char *p, size_t len);
void smile_cli_spool_time(long long t, char *buf);
void smile_cli_spool_age(long long s, char *buf);
const char *smile_cli_spool_where(const smile_cli_record_t *rec);
const char *smile_cli_spool_dir(const smile_cli_record_t *rec);

/* smile_cli_spool.c */
int smile_cli_spool_list(const smile_cli_command_t *cmd, int argc,
    char **argv);
int smile_cli_spool_show(const smile_cli_command_t *cmd, int argc,
    char **argv);
int smile_cli_spool_requeue(const smile_cli_command_t *cmd, int argc,
    char **argv);
int smile_cli_spool_purge(const smile_cli_command_t *cmd, int argc,
    char **argv);


#endif /* _SMILE_CLI_H_INCLUDED_ */
