
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The pure parts of the module: signature header decoding, constant-time
 * comparison, streaming HMAC-SHA512 and the streaming event parser.
 * Nothing here depends on nginx, so unit tests and fuzzers drive it directly.
 *
 * The HMAC keeps a few freed digest contexts per process for the next
 * request, in a static list without locks, and the parser a process-wide
 * choice of block scanner: call them from one thread only (an nginx worker,
 * a unit test, a fuzzer).  smile_exit() frees what is kept; nginx calls it
 * when a process exits, before the module is unloaded (after that the
 * list's memory would be reported as lost).
 */


#ifndef _SMILE_H_INCLUDED_
#define _SMILE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>


#define SMILE_SIG_LEN           64      /* bytes of a SHA-512 digest */
#define SMILE_SIG_HEX_LEN       128

#define SMILE_ID_MAX            128
#define SMILE_TYPE_MAX          64
#define SMILE_TIME_MAX          64
#define SMILE_VERSION_MAX       10
#define SMILE_MAX_DEPTH         256

/* the longest number or literal accepted */
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


/*
 * The streaming event parser.  Feed it the raw body in any split; it keeps
 * the top-level "id", "type", "createdAt" and "version" and the
 * "data.userId" and "data.accountId" values, judged by what they decode
 * to.  A nested "data.id" is not the event id.  The body must be one JSON
 * object (RFC 8259) whose strings are strict UTF-8 (RFC 3629), at most
 * SMILE_MAX_DEPTH containers deep, with numbers and literals of at most
 * SMILE_TOKEN_MAX bytes.  The first problem stops parsing and is kept in
 * "error"; the fields kept before it stay.
 *
 * It is a byte-by-byte state machine; where nothing but JSON syntax is to
 * be checked (inside containers below the top-level object and "data",
 * and inside strings whose value is not kept), a block scanner takes over
 * 64 bytes at a time with SSE2, AVX2 or AVX-512 (see smile_event.c).  The
 * other members are the machine's state between two feeds.
 */
typedef struct {
    const char             *error;

    unsigned char           state;
    unsigned char           expect;     /* the state a token began in */
    unsigned char           field;      /* what the next value fills */
    unsigned char           capture;    /* the token's value: see .c */
    unsigned char           count;      /* \u digits or UTF-8 bytes */
    unsigned char           lo;         /* the range of the next UTF-8 */
    unsigned char           hi;         /* continuation byte */
    unsigned char           run;        /* bytes of a number or literal */
    unsigned short          seen;       /* bit mask of fields seen */
    unsigned short          depth;      /* open objects and arrays */
    unsigned                cp;         /* a \u escape's code point */
    unsigned                in_data:1;  /* inside the top-level "data" */
    unsigned                started:1;
    unsigned                done:1;
    const char             *literal;    /* its bytes still to come */
    /* 1 for an object, level L (0: the top) at 64 + L; see .c */
    unsigned char           stack[64 + SMILE_MAX_DEPTH];
    size_t                  cap_len;
    unsigned char           cap[SMILE_ID_MAX + 1];

    smile_field_t           id;
    smile_field_t           type;
    smile_field_t           created_at;
    smile_field_t           version;
    smile_field_t           user_id;
    smile_field_t           account_id;
} smile_event_t;

int smile_event_init(smile_event_t *ev);
void smile_event_feed(smile_event_t *ev,
    const unsigned char *p, size_t len);

/* 0 when the body is a valid event, -1 with ev->error set otherwise */
int smile_event_finish(smile_event_t *ev);
void smile_event_free(smile_event_t *ev);

/*
 * The block scanner in use: SMILE_SIMD_NONE (the byte machine only),
 * SMILE_SIMD_SSE2, SMILE_SIMD_AVX2 or SMILE_SIMD_AVX512 (AVX-512BW), the
 * widest the CPU and the build have unless smile_event_simd() set a
 * narrower one (for tests: every level gives the same answer).  It returns
 * the level now in use; -1 only asks.
 */
#define SMILE_SIMD_NONE         0
#define SMILE_SIMD_SSE2         1
#define SMILE_SIMD_AVX2         2
#define SMILE_SIMD_AVX512       3

int smile_event_simd(int level);


/*
 * An RFC 3339 date-time (the signed "createdAt") as seconds since the
 * epoch: 0, or -1 when it is not one.
 */
int smile_parse_time(const unsigned char *p, size_t len,
    long long *out);


/* frees the digest contexts kept for the next request (the parser keeps
 * no memory: smile_event_exit() does nothing and stays for the API) */
void smile_exit(void);
void smile_hmac_exit(void);
void smile_event_exit(void);


#endif /* _SMILE_H_INCLUDED_ */
