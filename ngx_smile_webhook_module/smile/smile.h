
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The pure parts of the module: signature header decoding, constant-time
 * comparison, streaming HMAC-SHA512 and the streaming event parser.
 * Nothing here depends on nginx, so unit tests and fuzzers drive it directly.
 *
 * The HMAC and the parser keep a few freed digest contexts and parser
 * arenas per process for the next request, in static lists without locks:
 * call them from one thread only (an nginx worker, a unit test, a fuzzer).
 * smile_exit() frees what is kept; nginx calls it
 * when a process exits, before the module is unloaded (after that the
 * lists' memory would be reported as lost).
 */


#ifndef _SMILE_H_INCLUDED_
#define _SMILE_H_INCLUDED_


#include <stddef.h>
#include <openssl/evp.h>
#include <yajl/yajl_parse.h>


#define SMILE_SIG_LEN           64      /* bytes of a SHA-512 digest */
#define SMILE_SIG_HEX_LEN       128

#define SMILE_ID_MAX            128
#define SMILE_TYPE_MAX          64
#define SMILE_TIME_MAX          64
#define SMILE_VERSION_MAX       10
#define SMILE_MAX_DEPTH         256

/*
 * String bytes yajl sees before the rest of a long string is elided.  A
 * field value is judged by what it decodes to: the longest accepted value
 * (an id of SMILE_ID_MAX characters) written as \uXXXX escapes takes six
 * bytes a character, so no string that could decode to one is elided.
 */
#define SMILE_STRING_FED        (6 * SMILE_ID_MAX + 8)
/* the longest number or literal accepted (yajl re-reads them too) */
#define SMILE_TOKEN_MAX         64


/* signature header: 0 and 64 bytes in out, or -1 when not 128 hex digits */
int smile_sig_decode(const unsigned char *hex, size_t len,
    unsigned char *out);

/* 1 when the two 64-byte digests are equal; constant time */
int smile_sig_equal(const unsigned char *a,
    const unsigned char *b);


/*
 * A pre-keyed HMAC-SHA512: the inner and outer digest states after the
 * padded key block, computed once at configuration time.
 */
typedef struct {
    EVP_MD_CTX             *inner;
    EVP_MD_CTX             *outer;
} smile_hmac_key_t;

typedef struct {
    EVP_MD_CTX             *md;
} smile_hmac_t;

int smile_hmac_key_init(
    smile_hmac_key_t *key, const unsigned char *secret,
    size_t len);
void smile_hmac_key_free(
    smile_hmac_key_t *key);

/* each returns 0 on success, -1 on an OpenSSL failure */
int smile_hmac_start(smile_hmac_t *h,
    const smile_hmac_key_t *key);
int smile_hmac_update(smile_hmac_t *h,
    const void *data, size_t len);
int smile_hmac_final(smile_hmac_t *h,
    const smile_hmac_key_t *key, unsigned char *out);
void smile_hmac_free(smile_hmac_t *h);


/*
 * Safe patterns for values that become request headers or variables:
 * type [A-Z0-9_]{1,64}, id [A-Za-z0-9._:-]{1,128},
 * createdAt [0-9A-Za-z:.+-]{1,64}, version [0-9]{1,10}.
 */
int smile_is_type(const unsigned char *p, size_t len);
int smile_is_id(const unsigned char *p, size_t len);
int smile_is_time(const unsigned char *p, size_t len);
int smile_is_version(const unsigned char *p, size_t len);


typedef struct {
    size_t                  len;
    unsigned char           data[SMILE_ID_MAX + 1];
} smile_field_t;


/* the byte scanner's state between two feeds */
typedef struct {
    size_t                  run;        /* string or token bytes so far */
    size_t                  nesting;    /* open objects and arrays */
    unsigned char           closed;     /* the top-level value ended */
    unsigned char           in_string;
    unsigned char           eliding;
    unsigned char           escape;
    unsigned char           hex;        /* \uXXXX digits still to come */
    unsigned char           utf8;       /* UTF-8 continuation bytes to come */
    unsigned char           lo;         /* the range of the next one */
    unsigned char           hi;
} smile_scan_t;


/*
 * The streaming event parser.  Feed it the raw body in any split; it keeps
 * the top-level "id", "type", "createdAt" and "version" and the
 * "data.userId" and "data.accountId" values.  A nested "data.id" is not
 * the event id.  The first problem stops parsing and is kept in "error".
 *
 * yajl re-reads a token that spans two calls from its start, which makes
 * long strings fed in small pieces quadratic.  So a string is fed to yajl
 * only up to SMILE_STRING_FED bytes; the rest of it is checked here
 * (escapes and control characters as yajl would) and yajl sees a "~" in
 * its place, which no field pattern accepts.  Every string byte is also
 * checked as strict UTF-8 here, which yajl does not do.  Numbers and
 * literals are limited to SMILE_TOKEN_MAX bytes.
 */
typedef struct {
    yajl_handle             yajl;
    void                   *arena;      /* yajl's memory, see event.c */
    const char             *error;
    unsigned                depth;
    unsigned                field;      /* the field the next value fills */
    unsigned                seen;       /* bit mask of fields seen */
    unsigned                in_data:1;  /* inside the top-level "data" */
    unsigned                started:1;
    unsigned                done:1;

    smile_scan_t   scan;

    smile_field_t  id;
    smile_field_t  type;
    smile_field_t  created_at;
    smile_field_t  version;
    smile_field_t  user_id;
    smile_field_t  account_id;
} smile_event_t;

int smile_event_init(smile_event_t *ev);
void smile_event_feed(smile_event_t *ev,
    const unsigned char *p, size_t len);

/* 0 when the body is a valid event, -1 with ev->error set otherwise */
int smile_event_finish(smile_event_t *ev);
void smile_event_free(smile_event_t *ev);


/*
 * An RFC 3339 date-time (the signed "createdAt") as seconds since the
 * epoch: 0, or -1 when it is not one.
 */
int smile_parse_time(const unsigned char *p, size_t len,
    long long *out);


/* frees the digest contexts and parser arenas kept for the next request */
void smile_exit(void);
void smile_hmac_exit(void);
void smile_event_exit(void);


#endif /* _SMILE_H_INCLUDED_ */
