
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The header shared by every file of the module.  Each file is one
 * concern and depends on this header only (and on the nginx-free code in
 * smile/):
 *
 *   _module.c     directives, configuration, the module definition
 *   _handler.c    the request path, from the phase handler to the verdict
 *   _ctx.c        the request context and the table of results
 *   _body.c       the body fed to the HMAC and the parser as it arrives
 *   _headers.c    X-Smile-* request headers removed and added
 *   _variables.c  the $smile_* variables
 *   _dedupe.c     event ids in flight and delivered, in shared memory
 *   _spool.c      events the app failed to take, written to disk
 *   _replay.c     spooled events delivered again, from nginx's cache
 *                 manager process
 *   _status.c     shared counters and the Prometheus status location
 */


#ifndef _NGX_HTTP_SMILE_WEBHOOK_MODULE_H_INCLUDED_
#define _NGX_HTTP_SMILE_WEBHOOK_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "smile.h"


#define NGX_HTTP_SMILE_WEBHOOK_OFF      0
#define NGX_HTTP_SMILE_WEBHOOK_ON       1
#define NGX_HTTP_SMILE_WEBHOOK_REPORT   2

/* how far in the future a signed createdAt may be, by default */
#define NGX_HTTP_SMILE_WEBHOOK_SKEW     60


typedef enum {
    NGX_HTTP_SMILE_WEBHOOK_NONE = 0,
    NGX_HTTP_SMILE_WEBHOOK_OK,
    NGX_HTTP_SMILE_WEBHOOK_IP_DENIED,
    NGX_HTTP_SMILE_WEBHOOK_METHOD_NOT_ALLOWED,
    NGX_HTTP_SMILE_WEBHOOK_MISSING_SIGNATURE,
    NGX_HTTP_SMILE_WEBHOOK_MALFORMED_SIGNATURE,
    NGX_HTTP_SMILE_WEBHOOK_BAD_SIGNATURE,
    NGX_HTTP_SMILE_WEBHOOK_MALFORMED_EVENT,
    NGX_HTTP_SMILE_WEBHOOK_STALE,
    NGX_HTTP_SMILE_WEBHOOK_IGNORED,
    NGX_HTTP_SMILE_WEBHOOK_DUPLICATE,
    NGX_HTTP_SMILE_WEBHOOK_IN_FLIGHT,
    NGX_HTTP_SMILE_WEBHOOK_SPOOLED,
    NGX_HTTP_SMILE_WEBHOOK_NRESULTS
} ngx_http_smile_webhook_result_e;


/* what a result does to the request */
#define NGX_HTTP_SMILE_WEBHOOK_FORWARD  0   /* on to the content handler */
#define NGX_HTTP_SMILE_WEBHOOK_REJECT   1   /* an error status, logged */
#define NGX_HTTP_SMILE_WEBHOOK_ACK      2   /* 200, empty, logged at info */


/* one row per result: the behaviour of a result is read from here */
typedef struct {
    ngx_str_t                   name;       /* $smile_webhook_result */
    ngx_uint_t                  action;     /* FORWARD, REJECT or ACK */
    ngx_int_t                   status;     /* the answer in "on" mode */
    const char                 *reason;     /* NULL: the request's own */
    unsigned                    authentic:1;    /* event headers added */
} ngx_http_smile_webhook_result_t;


typedef struct {
    ngx_uint_t                  delivered;
    ngx_uint_t                  in_flight;
    ngx_uint_t                  spooled;
    uint64_t                    evictions;
    uint64_t                    overflows;
} ngx_http_smile_webhook_dedupe_stats_t;


typedef struct {
    ngx_str_t                   name;
    smile_hmac_key_t            key;
} ngx_http_smile_webhook_secret_t;


/* what smile_webhook_spool and the status location read of a spool */
typedef struct {
    ngx_atomic_t                spooled;    /* events written */
    ngx_atomic_t                full;       /* not written: max_size */
    ngx_atomic_t                failed;     /* not written: an error */
    ngx_atomic_t                delivered;  /* replays the app took */
    ngx_atomic_t                retried;    /* replays it did not */
    ngx_atomic_t                dead;       /* moved to dead/ */
    ngx_atomic_t                events;     /* files in the spool */
    ngx_atomic_t                bytes;
    ngx_atomic_t                oldest;     /* received, of the oldest */
} ngx_http_smile_webhook_spool_stats_t;


/* the shared state of a spool directory */
typedef struct {
    ngx_http_smile_webhook_spool_stats_t  stats;
    u_char                      token[32];  /* hex: proof of a replay */
    ngx_atomic_t                reserved;   /* bytes being written */
} ngx_http_smile_webhook_spool_sh_t;


/* a spool directory, shared by the locations that name it */
typedef struct {
    ngx_str_t                   path;       /* NUL-terminated */
    ngx_path_t                 *ngx_path;   /* nginx creates it */
    ngx_str_t                   socket;     /* PATH/replay.sock, the same */
    off_t                       max_size;   /* 0: no limit */
    time_t                      retry;
    time_t                      keep;
    ngx_str_t                   stream;     /* its Redis stream's name */
    ngx_shm_zone_t             *zone;
    ngx_http_smile_webhook_spool_sh_t  *sh;
    ngx_array_t                *servers;    /* listening on the socket */
    void                       *replayer;   /* in the cache manager */
#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;
#endif
    u_char                     *file;
    ngx_uint_t                  line;
} ngx_http_smile_webhook_spool_t;


typedef struct {
    ngx_uint_t                  enable;
    ngx_uint_t                  log_level;
    ngx_array_t                *secrets;    /* of secret_t */
    ngx_array_t                *allow;      /* ngx_cidr_t */
    ngx_flag_t                  allow_all;  /* "all" is in the list */
    ngx_str_t                   header;

    ngx_array_t                *events;     /* of ngx_str_t; NULL: all */
    time_t                      max_age;    /* 0: off */
    time_t                      skew;
    ngx_shm_zone_t             *dedupe;     /* NULL: off */
    ngx_http_smile_webhook_spool_t  *spool; /* NULL: off */

    u_char                     *enable_file;
    ngx_uint_t                  enable_line;
} ngx_http_smile_webhook_loc_conf_t;


/* smile_webhook_redis */
typedef struct {
    ngx_addr_t                  addr;
    ngx_str_t                   password;   /* from password_file */
    ngx_str_t                   prefix;
    ngx_uint_t                  db;
    ngx_msec_t                  timeout;
} ngx_http_smile_webhook_redis_conf_t;

typedef struct ngx_http_smile_webhook_redis_cmd_s
    ngx_http_smile_webhook_redis_cmd_t;

/* a reply, or NULL when there was none (connection failed, too late) */
typedef void (*ngx_http_smile_webhook_redis_pt)(void *data, void *reply);


typedef struct {
    ngx_array_t                *dedupe_zones;   /* of ngx_shm_zone_t * */
    ngx_array_t                *dedupe_refs;    /* zones named in locations */
    ngx_array_t                *spools;         /* of spool_t * */
    ngx_http_smile_webhook_redis_conf_t  *redis;    /* NULL: none */
    ngx_shm_zone_t             *status;
} ngx_http_smile_webhook_main_conf_t;


typedef struct {
    ngx_http_smile_webhook_loc_conf_t  *conf;
    ngx_http_request_t                 *request;

    ngx_http_smile_webhook_result_e     result;
    ngx_int_t                           status;     /* phase verdict */

    smile_hmac_t                       *hmacs;      /* one per secret */
    ngx_http_smile_webhook_secret_t    *matched;
    const char                         *reason;     /* of a policy result */
    smile_event_t                       event;

    ngx_shm_zone_t                     *dedupe;     /* holds the id */
    void                               *dedupe_node;
    off_t                               received;

    u_char                              sig[SMILE_SIG_LEN];

    ngx_uint_t                          attempt;    /* of a replay, or 0 */
    ngx_http_handler_pt                 content;    /* a replay's own */

    /* the request path goes on with a result Redis gave */
    void                              (*resume)(ngx_http_request_t *r,
                                          ngx_http_smile_webhook_result_e
                                          result);
    ngx_http_smile_webhook_redis_cmd_t *redis_cmd;  /* waiting for it */
    ngx_str_t                           redis_owner;    /* our claim */
    ngx_str_t                           redis_key;      /* its key */

    unsigned                            hashing:1;
    unsigned                            reading:1;  /* body being read */
    unsigned                            broken:1;   /* body read failed */
    unsigned                            failed:1;   /* OpenSSL failed */
    unsigned                            spooling:1; /* being written */
    unsigned                            swallow:1;  /* the app's answer */
    unsigned                            answering:1;    /* our own */
} ngx_http_smile_webhook_ctx_t;


extern ngx_module_t                      ngx_http_smile_webhook_module;
extern ngx_http_smile_webhook_result_t   ngx_http_smile_webhook_results[];


/* _handler.c */
ngx_int_t ngx_http_smile_webhook_handler_init(ngx_conf_t *cf);

/* _ctx.c */
ngx_http_smile_webhook_ctx_t *ngx_http_smile_webhook_create_ctx(
    ngx_http_request_t *r);
ngx_http_smile_webhook_ctx_t *ngx_http_smile_webhook_get_ctx(
    ngx_http_request_t *r);
void ngx_http_smile_webhook_reset_ctx(ngx_http_smile_webhook_ctx_t *ctx);

/* _body.c */
ngx_int_t ngx_http_smile_webhook_body_init(ngx_conf_t *cf);
ngx_int_t ngx_http_smile_webhook_body_start(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
ngx_int_t ngx_http_smile_webhook_body_fallback(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);

/* _headers.c */
ngx_int_t ngx_http_smile_webhook_rewrite_headers(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
ngx_int_t ngx_http_smile_webhook_is_smile_header(u_char *name, size_t len);

/* _variables.c */
ngx_int_t ngx_http_smile_webhook_add_variables(ngx_conf_t *cf);

/* _dedupe.c */
char *ngx_http_smile_webhook_dedupe_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smile_webhook_dedupe(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_smile_webhook_dedupe_init(ngx_conf_t *cf,
    ngx_http_smile_webhook_main_conf_t *swmcf);
ngx_http_smile_webhook_result_e ngx_http_smile_webhook_dedupe_acquire(
    ngx_http_request_t *r, ngx_http_smile_webhook_ctx_t *ctx);
void ngx_http_smile_webhook_dedupe_release(ngx_http_smile_webhook_ctx_t *ctx,
    ngx_http_request_t *r);
void ngx_http_smile_webhook_dedupe_stats(ngx_shm_zone_t *zone,
    ngx_http_smile_webhook_dedupe_stats_t *st);

/* _spool.c */
char *ngx_http_smile_webhook_spool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_smile_webhook_spool_init(ngx_conf_t *cf,
    ngx_http_smile_webhook_main_conf_t *swmcf);
ngx_int_t ngx_http_smile_webhook_spool_merge(ngx_conf_t *cf,
    ngx_http_smile_webhook_loc_conf_t *prev,
    ngx_http_smile_webhook_loc_conf_t *conf);
ngx_uint_t ngx_http_smile_webhook_replay_attempt(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
void ngx_http_smile_webhook_replay_hold(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
ngx_http_smile_webhook_spool_stats_t *ngx_http_smile_webhook_spool_stats(
    ngx_http_smile_webhook_spool_t *spool, ngx_str_t *path);
ngx_int_t ngx_http_smile_webhook_spool_stream_key(ngx_pool_t *pool,
    ngx_http_smile_webhook_redis_conf_t *rcf,
    ngx_http_smile_webhook_spool_t *spool, ngx_str_t *key);

/* _replay.c */
ngx_msec_t ngx_http_smile_webhook_replay_manager(void *data);

/* _redis.c */
char *ngx_http_smile_webhook_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_smile_webhook_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_smile_webhook_redis_conf_t *rcf);
void ngx_http_smile_webhook_redis_exit_process(void);
ngx_int_t ngx_http_smile_webhook_redis_up(void);
ngx_http_smile_webhook_redis_conf_t *ngx_http_smile_webhook_redis_conf(void);
ngx_int_t ngx_http_smile_webhook_redis_command(
    ngx_http_smile_webhook_redis_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen,
    ngx_http_smile_webhook_redis_cmd_t **cmd);
void ngx_http_smile_webhook_redis_cancel(
    ngx_http_smile_webhook_redis_cmd_t *cmd);

/* _status.c */
ngx_int_t ngx_http_smile_webhook_status_init(ngx_conf_t *cf,
    ngx_http_smile_webhook_main_conf_t *swmcf);
char *ngx_http_smile_webhook_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_smile_webhook_count(ngx_http_request_t *r,
    ngx_http_smile_webhook_ctx_t *ctx);
void ngx_http_smile_webhook_recount(ngx_http_request_t *r,
    ngx_http_smile_webhook_result_e from, ngx_http_smile_webhook_result_e to);
void ngx_http_smile_webhook_redis_state(ngx_uint_t up, ngx_str_t *addr,
    const char *why);
void ngx_http_smile_webhook_redis_fallback(ngx_uint_t what);

#define NGX_HTTP_SMILE_REDIS_FALLBACK_DEDUPE  0
#define NGX_HTTP_SMILE_REDIS_FALLBACK_SPOOL   1

/* _module.c */
ngx_int_t ngx_http_smile_webhook_read_file(ngx_conf_t *cf,
    ngx_str_t *directive, ngx_str_t *path, ngx_str_t *text);


#endif /* _NGX_HTTP_SMILE_WEBHOOK_MODULE_H_INCLUDED_ */
