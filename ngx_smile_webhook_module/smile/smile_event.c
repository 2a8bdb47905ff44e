
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The streaming event parser: a byte-by-byte JSON state machine, shaped
 * like ngx_http_parse_chunked(), that keeps the few fields the module
 * routes on, with a block scanner (smile_fast(), SSE2 or AVX2, behind
 * SMILE_SIMD) that takes over 64 bytes at a time wherever there is nothing
 * but JSON syntax to check.  No nginx dependency; fed buffer by buffer.
 *
 * Its answer, the error text included, is that of the yajl parser it
 * replaces (kept as fuzz/ref_event.c, which fuzz/fuzz_diff.c compares it
 * with): a token in the wrong place is reported where it ends (a number
 * where the next byte ends it), a byte that cannot start or continue a
 * token where it is, "JSON token too long" on the 65th byte of a run of
 * number or literal bytes, and the body ends as yajl's end of input did.
 */


#include <stdint.h>
#include <string.h>

#include "smile.h"


#if (defined __x86_64__ && defined __GNUC__)
#include <immintrin.h>
#define SMILE_SIMD  1
#endif


/*
 * The states.  Between two tokens the state is the grammar's: what may
 * come next.  Inside a token it is the lexer's, and "expect" keeps the
 * grammar state the token began in, which decides at its end whether it
 * was a key, a value or out of place.
 */

enum {
    sw_start = 0,           /* before the top-level value */
    sw_key_or_end,          /* after '{' */
    sw_key,                 /* after ',' in an object */
    sw_colon,               /* after a key */
    sw_value,               /* after ':', or ',' in an array */
    sw_value_or_end,        /* after '[' */
    sw_next,                /* after a value: ',' or the closing bracket */
    sw_done,                /* after the top-level object */
    sw_string,
    sw_escape,              /* after '\\' */
    sw_hex,                 /* in \uXXXX, ev->count digits to come */
    sw_utf8,                /* ev->count continuation bytes to come */
    sw_minus,               /* a number: after '-' */
    sw_zero,                /* after its leading 0 */
    sw_int,
    sw_dot,
    sw_frac,
    sw_exp,                 /* after 'e' or 'E' */
    sw_exp_sign,
    sw_exp_int,
    sw_literal,             /* true, false, null: ev->literal to come */
    sw_number_end,          /* smile_number(): the byte ends the number */
    sw_error                /* ev->error is set */
};


enum {
    SMILE_F_NONE = 0,
    SMILE_F_ID,
    SMILE_F_TYPE,
    SMILE_F_CREATED_AT,
    SMILE_F_VERSION,
    SMILE_F_USER_ID,
    SMILE_F_ACCOUNT_ID,
    SMILE_F_DATA
};


/* the kinds of value, for the fields' checks */
#define SMILE_STRING        1
#define SMILE_NUMBER        2
#define SMILE_OTHER         3       /* a literal, an object or an array */

/* ev->capture: what is kept of the string or number being read */
#define SMILE_CAP_NONE      0       /* nothing: it fills no field */
#define SMILE_CAP_ON        1       /* its decoded bytes, in ev->cap */
#define SMILE_CAP_BAD       2       /* nothing: it can match no name or
                                       pattern (not printable ASCII, or
                                       too long) */

/* the longest tracked key, "createdAt" and "accountId" */
#define SMILE_KEY_MAX       9

#define SMILE_BLOCK         64

#define smile_deep(ev)                                                       \
    ((ev)->depth > 2 || ((ev)->depth == 2 && !(ev)->in_data))

/* the stack: 1 for an object, level L (0: the top-level object) at 64 + L */
#define smile_is_object(ev, level)  ((ev)->stack[64 + (level)])


typedef struct {
    size_t                  offset;     /* of the field in smile_event_t */
    int                   (*match)(const unsigned char *p, size_t len);
    unsigned                kind;       /* the kind it must be */
    const char             *not_kind;   /* NULL: another kind is dropped */
    const char             *no_match;   /* NULL: a mismatch is dropped */
} smile_field_desc_t;


static int smile_is(const unsigned char *p, size_t len, size_t max,
    unsigned char class);
static unsigned smile_fail(smile_event_t *ev, const char *reason);
static unsigned smile_between(smile_event_t *ev, unsigned state,
    unsigned char ch);
static unsigned smile_escape(smile_event_t *ev, unsigned char ch);
static unsigned smile_hex(smile_event_t *ev, unsigned char ch);
static unsigned smile_literal(smile_event_t *ev, unsigned char ch);
static unsigned smile_open(smile_event_t *ev, unsigned state,
    unsigned char ch);
static unsigned smile_close(smile_event_t *ev, unsigned state,
    unsigned char ch);
static unsigned smile_comma(smile_event_t *ev, unsigned state);
static unsigned smile_begin(smile_event_t *ev, unsigned state,
    unsigned char ch);
static unsigned smile_end(smile_event_t *ev, unsigned kind);
static unsigned smile_key(smile_event_t *ev);
static unsigned smile_value(smile_event_t *ev, unsigned kind);
static unsigned smile_number(unsigned state, unsigned char ch);
static unsigned smile_utf8(smile_event_t *ev, unsigned char ch);
static const unsigned char *smile_plain_run(const unsigned char *p,
    const unsigned char *last);
static void smile_keep(smile_event_t *ev, unsigned ch);
static void smile_keep_run(smile_event_t *ev, const unsigned char *p,
    size_t n);
static const unsigned char *smile_fast(smile_event_t *ev,
    const unsigned char *p, const unsigned char *last, unsigned *state);


/* by SMILE_F_*, up to SMILE_F_ACCOUNT_ID */

static const smile_field_desc_t  smile_fields[] = {
    { 0, NULL, 0, NULL, NULL },
    { offsetof(smile_event_t, id), smile_is_id, SMILE_STRING,
      "\"id\" is not a string", "\"id\" does not match the safe pattern" },
    { offsetof(smile_event_t, type), smile_is_type, SMILE_STRING,
      "\"type\" is not a string",
      "\"type\" does not match the safe pattern" },
    { offsetof(smile_event_t, created_at), smile_is_time, SMILE_STRING,
      "\"createdAt\" is not a string",
      "\"createdAt\" does not match the safe pattern" },
    { offsetof(smile_event_t, version), smile_is_version, SMILE_NUMBER,
      NULL, NULL },
    { offsetof(smile_event_t, user_id), smile_is_id, SMILE_STRING,
      "\"data.userId\" is not a string",
      "\"data.userId\" does not match the safe pattern" },
    { offsetof(smile_event_t, account_id), smile_is_id, SMILE_STRING,
      NULL, NULL }
};


/* the block scanner in use, SMILE_SIMD_*; -1 until the first init */
static int  smile_simd = -1;


/*
 * Bytes that continue a run of number or literal bytes outside strings:
 * all but white space (\f and \v included), '"', ',', ':' and brackets.
 * A run longer than SMILE_TOKEN_MAX is "JSON token too long", whatever it
 * holds, as it was when the scanner stopped yajl at that length.
 */

static const unsigned char  smile_token[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1,   /* 00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 10 */
    0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,   /* 20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1,   /* 30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1,   /* 50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1,   /* 70 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 80 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 90 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* a0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* b0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* c0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* d0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* e0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1    /* f0 */
};


/* printable ASCII but '"' and '\\': string bytes that change no state */

static const unsigned char  smile_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,   /* 50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0    /* f0 */
};


/*
 * The bytes of the safe patterns: 1 type [A-Z0-9_], 2 id [A-Za-z0-9._:-],
 * 4 createdAt [0-9A-Za-z:.+-], 8 version [0-9].
 */

#define SMILE_C_TYPE        1
#define SMILE_C_ID          2
#define SMILE_C_TIME        4
#define SMILE_C_VERSION     8

static const unsigned char  smile_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* 00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* 10 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  4,  0,  6,  6,  0,   /* 20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  0,  0,  0,  0,  0,   /* 30 */
     0,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,   /* 40 */
     7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  0,  0,  0,  0,  3,   /* 50 */
     0,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,   /* 60 */
     6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  0,  0,  0,  0,  0,   /* 70 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* 80 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* 90 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* a0 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* b0 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* c0 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* d0 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,   /* e0 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0    /* f0 */
};


int
smile_is_type(const unsigned char *p, size_t len)
{
    return smile_is(p, len, SMILE_TYPE_MAX, SMILE_C_TYPE);
}


int
smile_is_id(const unsigned char *p, size_t len)
{
    return smile_is(p, len, SMILE_ID_MAX, SMILE_C_ID);
}


int
smile_is_time(const unsigned char *p, size_t len)
{
    return smile_is(p, len, SMILE_TIME_MAX, SMILE_C_TIME);
}


int
smile_is_version(const unsigned char *p, size_t len)
{
    return smile_is(p, len, SMILE_VERSION_MAX, SMILE_C_VERSION);
}


/* 1..max bytes, each in the class */

static int
smile_is(const unsigned char *p, size_t len, size_t max,
    unsigned char class)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!(smile_class[p[i]] & class)) {
            return 0;
        }
    }

    return 1;
}


int
smile_event_init(smile_event_t *ev)
{
    memset(ev, 0, sizeof(smile_event_t));

    if (smile_simd < 0) {
        (void) smile_event_simd(SMILE_SIMD_AVX512);
    }

    return 0;
}


int
smile_event_simd(int level)
{
    int  best;

    best = SMILE_SIMD_NONE;

#if (SMILE_SIMD)
    __builtin_cpu_init();

    best = SMILE_SIMD_SSE2;

    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi")
        && __builtin_cpu_supports("bmi2")
        && __builtin_cpu_supports("pclmul"))
    {
        best = __builtin_cpu_supports("avx512bw") ? SMILE_SIMD_AVX512
                                                  : SMILE_SIMD_AVX2;
    }
#endif

    if (level >= 0) {
        smile_simd = level < best ? level : best;

    } else if (smile_simd < 0) {
        smile_simd = best;
    }

    return smile_simd;
}


void
smile_event_free(smile_event_t *ev)
{
    /* nothing is allocated: kept for the API */
}


void
smile_event_exit(void)
{
    /* nothing is kept */
}


void
smile_event_feed(smile_event_t *ev, const unsigned char *p, size_t len)
{
    unsigned              state, next;
    unsigned char         ch;
    const unsigned char  *last, *slow, *q;

    if (ev->error || len == 0) {
        return;
    }

    state = ev->state;
    last = p + len;

    /* the block scanner is not tried again before this point */
    slow = p;

    while (p < last) {
        ch = *p;

        switch (state) {

        case sw_key_or_end:
        case sw_key:
        case sw_colon:
        case sw_value:
        case sw_value_or_end:
        case sw_next:

            if (smile_deep(ev) && p >= slow && last - p >= SMILE_BLOCK) {
                q = smile_fast(ev, p, last, &state);

                if (q != p) {
                    p = q;
                    continue;
                }

                slow = p + SMILE_BLOCK;
            }

            /* fall through */

        case sw_start:

            if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
                ev->run = 0;

                /* the rest of a run of white space, as in indented JSON */

                while (p + 1 < last
                       && (p[1] == ' ' || p[1] == '\n' || p[1] == '\r'
                           || p[1] == '\t'))
                {
                    p++;
                }

                break;
            }

            state = smile_between(ev, state, ch);
            break;

        case sw_done:
            if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
                state = smile_fail(ev, "body is not valid JSON");
            }

            break;

        case sw_string:

            if (ev->capture == SMILE_CAP_ON) {
                /* the plain bytes of a kept string, at once */

                q = smile_plain_run(p, last);
                smile_keep_run(ev, p, q - p);

                p = q;

                if (p == last) {
                    continue;
                }

                ch = *p;

            } else {

                if (p >= slow && last - p >= SMILE_BLOCK) {
                    q = smile_fast(ev, p, last, &state);

                    if (q != p) {
                        p = q;
                        continue;
                    }

                    slow = p + SMILE_BLOCK;
                }

                /* a run of plain bytes */

                p = smile_plain_run(p, last);

                if (p == last) {
                    continue;
                }

                ch = *p;
            }

            if (ch == '"') {
                state = smile_end(ev, SMILE_STRING);

            } else if (ch == '\\') {
                state = sw_escape;

            } else if (ch < 0x20) {
                state = smile_fail(ev, "body is not valid JSON");

            } else if (ch >= 0x80) {
                state = smile_utf8(ev, ch);

            } else {
                smile_keep(ev, ch);
            }

            break;

        case sw_escape:
            state = smile_escape(ev, ch);
            break;

        case sw_hex:
            state = smile_hex(ev, ch);
            break;

        case sw_utf8:
            if (ch < ev->lo || ch > ev->hi) {
                state = smile_fail(ev, "invalid UTF-8 in a string");
                break;
            }

            ev->lo = 0x80;
            ev->hi = 0xbf;

            if (--ev->count == 0) {
                state = sw_string;
            }

            break;

        case sw_minus:
        case sw_zero:
        case sw_int:
        case sw_dot:
        case sw_frac:
        case sw_exp:
        case sw_exp_sign:
        case sw_exp_int:

            /* the length first: yajl never saw the 65th byte of a run */

            if (smile_token[ch] && ev->run == SMILE_TOKEN_MAX) {
                state = smile_fail(ev, "JSON token too long");
                break;
            }

            next = smile_number(state, ch);

            if (next == sw_number_end) {
                if (ch == '\f' || ch == '\v') {
                    state = smile_fail(ev, "body is not valid JSON");
                    break;
                }

                /* the byte that ends a number is read again */
                state = smile_end(ev, SMILE_NUMBER);
                continue;
            }

            if (next == sw_error) {
                state = smile_fail(ev, "body is not valid JSON");
                break;
            }

            ev->run++;
            smile_keep(ev, ch);
            state = next;
            break;

        case sw_literal:
            state = smile_literal(ev, ch);
            break;

        default: /* sw_error */
            p = last;
            continue;
        }

        if (state == sw_error) {
            break;
        }

        p++;
    }

    ev->state = (unsigned char) state;
}


int
smile_event_finish(smile_event_t *ev)
{
    if (ev->error == NULL) {

        switch (ev->state) {

        case sw_done:
            break;

        case sw_zero:
        case sw_int:
        case sw_frac:
        case sw_exp_int:
            /* the end of the body ends a number; then it is too early */
            if (smile_end(ev, SMILE_NUMBER) != sw_error) {
                (void) smile_fail(ev, "body is not valid JSON");
            }

            break;

        default:
            (void) smile_fail(ev, "body is not valid JSON");
        }
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


static unsigned
smile_fail(smile_event_t *ev, const char *reason)
{
    if (ev->error == NULL) {
        ev->error = reason;
    }

    return sw_error;
}


/*
 * A byte between two tokens (white space aside): a structural byte, or
 * the first byte of a string, number or literal.
 */

static unsigned
smile_between(smile_event_t *ev, unsigned state, unsigned char ch)
{
    switch (ch) {

    case '"':
        ev->run = 0;
        return smile_begin(ev, state, ch);

    case '{': case '[':
        ev->run = 0;
        return smile_open(ev, state, ch);

    case '}': case ']':
        ev->run = 0;
        return smile_close(ev, state, ch);

    case ',':
        ev->run = 0;
        return smile_comma(ev, state);

    case ':':
        ev->run = 0;
        return (state == sw_colon)
               ? sw_value : smile_fail(ev, "body is not valid JSON");

    case '\f': case '\v':
        /* yajl takes them for white space; JSON does not */
        return smile_fail(ev, "body is not valid JSON");

    default:
        /* a number, a literal, or a byte out of place */

        if (ev->run == SMILE_TOKEN_MAX) {
            return smile_fail(ev, "JSON token too long");
        }

        ev->run++;

        return smile_begin(ev, state, ch);
    }
}


/* the byte after a backslash in a string */

static unsigned
smile_escape(smile_event_t *ev, unsigned char ch)
{
    static const unsigned char  decoded[] = "\"\"\\\\//b\bf\fn\nr\rt\t";

    const unsigned char  *d;

    if (ch == 'u') {
        ev->count = 4;
        ev->cp = 0;
        return sw_hex;
    }

    for (d = decoded; *d; d += 2) {
        if (*d == ch) {
            smile_keep(ev, d[1]);
            return sw_string;
        }
    }

    return smile_fail(ev, "body is not valid JSON");
}


/* a digit of \uXXXX */

static unsigned
smile_hex(smile_event_t *ev, unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        ev->cp = ev->cp << 4 | (ch - '0');

    } else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') {
        ev->cp = ev->cp << 4 | ((ch | 0x20) - 'a' + 10);

    } else {
        return smile_fail(ev, "body is not valid JSON");
    }

    if (--ev->count) {
        return sw_hex;
    }

    /* what is not ASCII matches no name or pattern */
    smile_keep(ev, ev->cp < 0x80 ? ev->cp : 0x100);

    return sw_string;
}


/* a byte of true, false or null */

static unsigned
smile_literal(smile_event_t *ev, unsigned char ch)
{
    /* the length first: yajl never saw the 65th byte of a run */

    if (smile_token[ch] && ev->run == SMILE_TOKEN_MAX) {
        return smile_fail(ev, "JSON token too long");
    }

    if (ch != (unsigned char) *ev->literal) {
        return smile_fail(ev, "body is not valid JSON");
    }

    ev->run++;

    if (*++ev->literal == '\0') {
        return smile_end(ev, SMILE_OTHER);
    }

    return sw_literal;
}


/* '{' or '[' */

static unsigned
smile_open(smile_event_t *ev, unsigned state, unsigned char ch)
{
    if (state != sw_start && state != sw_value && state != sw_value_or_end) {
        return smile_fail(ev, "body is not valid JSON");
    }

    if (ev->depth == 0 && ch == '{') {
        ev->started = 1;

    } else if (ev->depth == 1 && ch == '{' && ev->field == SMILE_F_DATA) {
        ev->in_data = 1;
        ev->field = SMILE_F_NONE;

    } else if (smile_value(ev, SMILE_OTHER) == sw_error) {
        return sw_error;
    }

    if (ev->depth == SMILE_MAX_DEPTH) {
        return smile_fail(ev, "JSON is nested too deeply");
    }

    smile_is_object(ev, ev->depth) = (ch == '{');
    ev->depth++;

    return (ch == '{') ? sw_key_or_end : sw_value_or_end;
}


/* '}' or ']' */

static unsigned
smile_close(smile_event_t *ev, unsigned state, unsigned char ch)
{
    unsigned  object;

    object = (ch == '}');

    if (state != (object ? sw_key_or_end : sw_value_or_end)
        && (state != sw_next
            || smile_is_object(ev, ev->depth - 1) != object))
    {
        return smile_fail(ev, "body is not valid JSON");
    }

    ev->field = SMILE_F_NONE;

    if (--ev->depth == 1) {
        ev->in_data = 0;

    } else if (ev->depth == 0) {
        ev->done = 1;
        return sw_done;
    }

    return sw_next;
}


static unsigned
smile_comma(smile_event_t *ev, unsigned state)
{
    if (state != sw_next) {
        return smile_fail(ev, "body is not valid JSON");
    }

    return smile_is_object(ev, ev->depth - 1) ? sw_key : sw_value;
}


/*
 * The first byte of a string, number or literal, in the grammar state
 * "state": whatever that is, the token is read to its end, where it is
 * judged (see smile_end()).  A string or number that may fill a field or
 * be a tracked key is kept, decoded, in ev->cap.
 */

static unsigned
smile_begin(smile_event_t *ev, unsigned state, unsigned char ch)
{
    unsigned  field, value, next;

    value = (state == sw_start || state == sw_value
             || state == sw_value_or_end);
    field = value ? ev->field : SMILE_F_NONE;

    ev->expect = (unsigned char) state;
    ev->capture = SMILE_CAP_NONE;
    ev->cap_len = 0;

    switch (ch) {

    case '"':
        if ((field != SMILE_F_NONE && field != SMILE_F_DATA
             && field != SMILE_F_VERSION)
            || ((state == sw_key_or_end || state == sw_key)
                && (ev->depth == 1 || (ev->depth == 2 && ev->in_data))))
        {
            ev->capture = SMILE_CAP_ON;
        }

        return sw_string;

    case 't':
        ev->literal = "rue";
        return sw_literal;

    case 'f':
        ev->literal = "alse";
        return sw_literal;

    case 'n':
        ev->literal = "ull";
        return sw_literal;
    }

    next = smile_number(sw_start, ch);

    if (next == sw_error) {
        return smile_fail(ev, "body is not valid JSON");
    }

    if (field == SMILE_F_VERSION) {
        ev->capture = SMILE_CAP_ON;
        smile_keep(ev, ch);
    }

    return next;
}


/*
 * The number lexer, as yajl's: the state after "ch", or sw_number_end
 * when "ch" ends the number (it is not part of it), or sw_error.  From
 * sw_start: the first byte.
 */

static unsigned
smile_number(unsigned state, unsigned char ch)
{
    unsigned  digit, exp;

    digit = (ch >= '0' && ch <= '9');
    exp = ((ch | 0x20) == 'e');

    switch (state) {

    case sw_start:
        return ch == '-' ? sw_minus
               : ch == '0' ? sw_zero
               : digit ? sw_int : sw_error;

    case sw_minus:
        return ch == '0' ? sw_zero : digit ? sw_int : sw_error;

    case sw_zero:
        return ch == '.' ? sw_dot : exp ? sw_exp : sw_number_end;

    case sw_int:
        return digit ? sw_int
               : ch == '.' ? sw_dot
               : exp ? sw_exp : sw_number_end;

    case sw_dot:
        return digit ? sw_frac : sw_error;

    case sw_frac:
        return digit ? sw_frac : exp ? sw_exp : sw_number_end;

    case sw_exp:
        return (ch == '+' || ch == '-') ? sw_exp_sign
               : digit ? sw_exp_int : sw_error;

    case sw_exp_sign:
        return digit ? sw_exp_int : sw_error;

    default: /* sw_exp_int */
        return digit ? sw_exp_int : sw_number_end;
    }
}


/* the lead byte of a strict UTF-8 sequence (RFC 3629) in a string */

static unsigned
smile_utf8(smile_event_t *ev, unsigned char ch)
{
    ev->lo = 0x80;
    ev->hi = 0xbf;

    if (ch >= 0xc2 && ch <= 0xdf) {
        ev->count = 1;

    } else if (ch >= 0xe0 && ch <= 0xef) {
        ev->count = 2;
        ev->lo = (ch == 0xe0) ? 0xa0 : 0x80;    /* overlong */
        ev->hi = (ch == 0xed) ? 0x9f : 0xbf;    /* surrogates */

    } else if (ch >= 0xf0 && ch <= 0xf4) {
        ev->count = 3;
        ev->lo = (ch == 0xf0) ? 0x90 : 0x80;    /* overlong */
        ev->hi = (ch == 0xf4) ? 0x8f : 0xbf;    /* above U+10FFFF */

    } else {
        return smile_fail(ev, "invalid UTF-8 in a string");
    }

    /* not ASCII: matches no name or pattern */
    smile_keep(ev, 0x100);

    return sw_utf8;
}


/*
 * One decoded byte of a kept string or number; 0x100 stands for a
 * character that is not ASCII.  A value longer than any pattern allows, a
 * key longer than any tracked name, or a character that is not ASCII, can
 * match none of them: then nothing more is kept.
 */

static void
smile_keep(smile_event_t *ev, unsigned ch)
{
    size_t  max;

    if (ev->capture != SMILE_CAP_ON) {
        return;
    }

    max = (ev->expect == sw_key_or_end || ev->expect == sw_key)
          ? SMILE_KEY_MAX : SMILE_ID_MAX;

    if (ch > 0xff || ev->cap_len == max) {
        ev->capture = SMILE_CAP_BAD;
        return;
    }

    ev->cap[ev->cap_len++] = (unsigned char) ch;
}


/*
 * The first byte from p on that is not plain (see smile_plain[]), or last:
 * 16 bytes at a time with SSE2, the x86-64 baseline.
 */

static const unsigned char *
smile_plain_run(const unsigned char *p, const unsigned char *last)
{
#if (SMILE_SIMD)
    unsigned  mask;
    __m128i   v;

    while (last - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);

        mask = (unsigned) _mm_movemask_epi8(
                   _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                _mm_or_si128(
                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))));

        if (mask) {
            return p + __builtin_ctz(mask);
        }

        p += 16;
    }
#endif

    while (p < last && smile_plain[*p]) {
        p++;
    }

    return p;
}


/* n plain bytes of a kept string */

static void
smile_keep_run(smile_event_t *ev, const unsigned char *p, size_t n)
{
    size_t  max;

    max = (ev->expect == sw_key_or_end || ev->expect == sw_key)
          ? SMILE_KEY_MAX : SMILE_ID_MAX;

    if (n > max - ev->cap_len) {
        ev->capture = SMILE_CAP_BAD;
        return;
    }

    memcpy(ev->cap + ev->cap_len, p, n);
    ev->cap_len += n;
}


/* the end of a string, number or literal: a key, a value, or misplaced */

static unsigned
smile_end(smile_event_t *ev, unsigned kind)
{
    switch (ev->expect) {

    case sw_key_or_end:
    case sw_key:
        return (kind == SMILE_STRING)
               ? smile_key(ev) : smile_fail(ev, "body is not valid JSON");

    case sw_start:
    case sw_value:
    case sw_value_or_end:
        return smile_value(ev, kind);

    default:
        return smile_fail(ev, "body is not valid JSON");
    }
}


/* a key: at the top level and in the top-level "data", a tracked one? */

#define smile_is_key(ev, name)                                               \
    (memcmp((ev)->cap, name, sizeof(name) - 1) == 0)

static unsigned
smile_key(smile_event_t *ev)
{
    unsigned  field, bit;

    ev->field = SMILE_F_NONE;

    if (ev->capture != SMILE_CAP_ON) {
        return sw_colon;
    }

    field = SMILE_F_NONE;

    switch (ev->cap_len + (ev->depth == 1 ? 0 : 100)) {

    case 2:
        field = smile_is_key(ev, "id") ? SMILE_F_ID : field;
        break;

    case 4:
        field = smile_is_key(ev, "type") ? SMILE_F_TYPE
                : smile_is_key(ev, "data") ? SMILE_F_DATA : field;
        break;

    case 7:
        field = smile_is_key(ev, "version") ? SMILE_F_VERSION : field;
        break;

    case 9:
        field = smile_is_key(ev, "createdAt") ? SMILE_F_CREATED_AT : field;
        break;

    /* in "data" */

    case 106:
        field = smile_is_key(ev, "userId") ? SMILE_F_USER_ID : field;
        break;

    case 109:
        field = smile_is_key(ev, "accountId") ? SMILE_F_ACCOUNT_ID : field;
        break;
    }

    if (field == SMILE_F_NONE) {
        return sw_colon;
    }

    bit = 1u << field;

    if (ev->seen & bit) {
        return smile_fail(ev, "duplicate key in event");
    }

    ev->seen |= bit;
    ev->field = (unsigned char) field;

    return sw_colon;
}


/*
 * A value of "kind" (for an object or an array, at its opening bracket):
 * it fills the field its key named, if any.
 */

static unsigned
smile_value(smile_event_t *ev, unsigned kind)
{
    unsigned                   field;
    smile_field_t             *f;
    const smile_field_desc_t  *d;

    field = ev->field;
    ev->field = SMILE_F_NONE;

    if (ev->depth == 0) {
        return smile_fail(ev, "body is not a JSON object");
    }

    if (field == SMILE_F_NONE || field == SMILE_F_DATA) {
        return sw_next;
    }

    d = &smile_fields[field];

    if (kind != d->kind) {
        return d->not_kind ? smile_fail(ev, d->not_kind) : sw_next;
    }

    if (ev->capture != SMILE_CAP_ON || !d->match(ev->cap, ev->cap_len)) {
        return d->no_match ? smile_fail(ev, d->no_match) : sw_next;
    }

    f = (smile_field_t *) ((unsigned char *) ev + d->offset);

    memcpy(f->data, ev->cap, ev->cap_len);
    f->data[ev->cap_len] = '\0';
    f->len = ev->cap_len;

    return sw_next;
}


#if (SMILE_SIMD)

/*
 * The block scanner: 64 bytes at a time, classified into bit masks (bit i
 * for byte i), which are checked together as far as JSON syntax goes:
 *
 *  - strings: escapes (the simdjson way: a backslash run of odd length
 *    escapes the next byte; then \u and four hex digits), quotes not
 *    escaped, the bytes inside strings (a prefix XOR of the quotes), no
 *    control bytes in them, strict UTF-8 (lead bytes, the continuation
 *    bytes they ask for, the special second bytes of E0, ED, F0, F4);
 *  - outside strings: only white space, brackets, ',', ':' and number or
 *    literal bytes; each number follows JSON's grammar (checked as chains
 *    of digit runs, with additions that carry across a run), each literal
 *    is true, false or null;
 *  - the grammar: what may follow each kind of token, white space
 *    skipped ((x << 1) + ws carries past the white space after x): after
 *    '{' a key or '}', after '[' a value or ']', after ',' a key in an
 *    object and a value in an array, after ':' a value, after a key ':',
 *    after a value ',' or a closing bracket; a key is a string at a key's
 *    place;
 *  - brackets, one by one: they match, the depth stays within
 *    SMILE_MAX_DEPTH, and they give each byte its container (object or
 *    array) for the rule on ','.
 *
 * It only runs where the byte machine would change nothing but its state:
 * inside containers below the top-level object and "data" (smile_deep()),
 * or, anywhere, inside a string whose value is not kept, up to its end.
 * It stops at a closing bracket that returns to the top level or to
 * "data".  Of each block it takes the bytes up to the last place where
 * the byte machine's state can be told (after a structural byte, a string
 * or white space, or inside a string between two characters) and before
 * the first byte it finds wrong or cannot judge yet (the tail of a number
 * or literal cut by the block's end); from there on, the byte machine
 * reads on, so every error is found and reported by it.
 */

#define SMILE_EVEN   0x5555555555555555ULL
#define SMILE_TOP    0x8000000000000000ULL

#define smile_inline  static inline __attribute__((always_inline))


/* bit i of each mask is for byte i of the block */

typedef struct {
    uint64_t                quote;
    uint64_t                bslash;
    uint64_t                ws;         /* ' ', \t, \n, \r */
    uint64_t                open;       /* '{', '[' */
    uint64_t                close;      /* '}', ']' */
    uint64_t                comma;
    uint64_t                colon;
    uint64_t                ctl;        /* below 0x20 */
    uint64_t                high;       /* from 0x80 up */
    uint64_t                digit;
    uint64_t                zero;
    uint64_t                minus;
    uint64_t                sign;       /* '+', '-' */
    uint64_t                dot;
    uint64_t                exp;        /* 'e', 'E' */
    uint64_t                scalar;     /* all of these and a-z */
} smile_masks_t;


/*
 * What an instruction set gives the scanner: masks of the 64 bytes at p
 * that equal c, lie in lo..hi, equal c once ANDed with m, are below k
 * (unsigned) or from 0x80 up; a prefix XOR; and whether the 64 bytes are
 * all plain string bytes (printable ASCII but '"' and '\\').  The
 * scanner is written once over these; each set's functions are inlined
 * into its own copy of it (smile_scan_sse2() and so on), compiled for that
 * set.
 */

typedef struct {
    uint64_t              (*eq)(const unsigned char *p, int c);
    uint64_t              (*in)(const unsigned char *p, int lo, int hi);
    uint64_t              (*and_eq)(const unsigned char *p, int m, int c);
    uint64_t              (*below)(const unsigned char *p, int k);
    uint64_t              (*high)(const unsigned char *p);
    uint64_t              (*prefix_xor)(uint64_t x);
    int                   (*plain)(const unsigned char *p);
} smile_isa_t;


smile_inline smile_masks_t
smile_classify(const unsigned char *p, const smile_isa_t *isa)
{
    smile_masks_t  m;

    m.quote = isa->eq(p, '"');
    m.bslash = isa->eq(p, '\\');
    m.ws = isa->eq(p, ' ') | isa->eq(p, '\r') | isa->in(p, '\t', '\n');
    m.open = isa->and_eq(p, 0xdf, '[');
    m.close = isa->and_eq(p, 0xdf, ']');
    m.comma = isa->eq(p, ',');
    m.colon = isa->eq(p, ':');
    m.ctl = isa->below(p, 0x20);
    m.high = isa->high(p);
    m.digit = isa->in(p, '0', '9');
    m.zero = isa->eq(p, '0');
    m.minus = isa->eq(p, '-');
    m.sign = m.minus | isa->eq(p, '+');
    m.dot = isa->eq(p, '.');
    m.exp = isa->and_eq(p, 0xdf, 'E');
    m.scalar = m.digit | m.sign | m.dot | m.exp | isa->in(p, 'a', 'z');

    return m;
}


static inline uint64_t
smile_prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;

    return x;
}


/*
 * The token before the block, as smile_succ() carries it in (in bit 0):
 * by state, what the first token in the block follows.  SMILE_CIN_OPEN
 * stands for '{', '[' and ',' alike (see smile_block()).
 */

#define SMILE_CIN_OPEN    1
#define SMILE_CIN_COLON   2
#define SMILE_CIN_KEY     4
#define SMILE_CIN_END     8
#define SMILE_CIN_COMMA   16

#define smile_cin_bit(cin, b)  (((cin) / (b)) & 1)

static const unsigned char  smile_cin[sw_error + 1] = {
    0,                      /* sw_start */
    SMILE_CIN_OPEN,         /* sw_key_or_end */
    SMILE_CIN_OPEN | SMILE_CIN_COMMA,   /* sw_key */
    SMILE_CIN_KEY,          /* sw_colon */
    SMILE_CIN_COLON,        /* sw_value */
    SMILE_CIN_OPEN,         /* sw_value_or_end */
    SMILE_CIN_END,          /* sw_next */
    0
};


/* the next token after each bit of x (and after byte -1 with cin) */

smile_inline uint64_t
smile_succ(uint64_t x, uint64_t cin, uint64_t ws)
{
    return (((x << 1) | cin) + ws) & ~ws;
}


/* bits 0..n-1, n in 0..64 */

smile_inline uint64_t
smile_below(unsigned n)
{
    return n >= 64 ? ~(uint64_t) 0 : ((uint64_t) 1 << n) - 1;
}


/*
 * A literal starting at byte i of the block (64 bytes readable): true,
 * false or null whole, its end in "ends".  Without branches: which
 * literal it is varies from one to the next.
 */

smile_inline uint64_t
smile_literal_ok(const unsigned char *b, unsigned i, uint64_t ends)
{
    unsigned  n, at;
    uint64_t  w;

    ends >>= i;
    n = ends ? (unsigned) __builtin_ctzll(ends) + 1 : 0;

    at = i < 56 ? i : 56;
    memcpy(&w, b + at, 8);
    w >>= 8 * (i - at);

    /* little-endian: "true" is 0x65757274 */
    return ((n == 4) & (((w & 0xffffffff) == 0x65757274)
                        | ((w & 0xffffffff) == 0x6c6c756e)))
           | ((n == 5) & ((w & 0xffffffffff) == 0x65736c6166));
}


/*
 * Escapes: the bytes escaped (after a backslash run of odd length) into
 * *esc; the positions found wrong returned; in *tail the first byte of an
 * escape the block cuts.
 */

smile_inline uint64_t
smile_block_escapes(const unsigned char *p, uint64_t bs, const smile_isa_t *isa,
    uint64_t *esc, unsigned *tail)
{
    unsigned  i;
    uint64_t  x, e, u, ok, hex;

    x = bs & ~(bs << 1);                        /* where runs begin */
    e = (bs + (x & SMILE_EVEN)) & ~bs & ~SMILE_EVEN;

    if (__builtin_add_overflow(bs, x & ~SMILE_EVEN, &x)) {
        *tail = 63;                             /* an odd run ends it */
    }

    e |= x & ~bs & SMILE_EVEN;
    *esc = e;

    u = e & isa->eq(p, 'u');
    ok = isa->eq(p, '"') | isa->eq(p, '/') | isa->eq(p, 'b')
         | isa->eq(p, 'f') | isa->eq(p, 'n') | isa->eq(p, 'r')
         | isa->eq(p, 't') | isa->eq(p, 'u');
    hex = isa->in(p, '0', '9') | isa->in(p, 'a', 'f') | isa->in(p, 'A', 'F');

    if (u >> 60) {
        /* \u with digits past the block */
        i = 62 - (unsigned) __builtin_clzll(u);
        *tail = i < *tail ? i : *tail;
    }

    return (e & ~ok) | (((u << 1) | (u << 2) | (u << 3) | (u << 4)) & ~hex);
}


/*
 * Strict UTF-8 over the whole block: the positions found wrong; in *tail
 * the first byte of a character the block cuts.
 */

smile_inline uint64_t
smile_block_utf8(const unsigned char *p, uint64_t high, const smile_isa_t *isa,
    unsigned *tail)
{
    uint64_t  ge90, gea0, gec0, gec2, gee0, gef0, gef5, cont, l2, l3, l4,
              req, cut;

    ge90 = high & ~isa->below(p, 0x90);
    gea0 = high & ~isa->below(p, 0xa0);
    gec0 = high & ~isa->below(p, 0xc0);
    gec2 = high & ~isa->below(p, 0xc2);
    gee0 = high & ~isa->below(p, 0xe0);
    gef0 = high & ~isa->below(p, 0xf0);
    gef5 = high & ~isa->below(p, 0xf5);

    cont = high & ~gec0;
    l2 = gec2 & ~gee0;
    l3 = gee0 & ~gef0;
    l4 = gef0 & ~gef5;

    req = ((l2 | l3 | l4) << 1) | ((l3 | l4) << 2) | (l4 << 3);

    cut = (l2 & SMILE_TOP) | (l3 & (3ULL << 62)) | (l4 & (7ULL << 61));

    if (cut) {
        *tail = (unsigned) __builtin_ctzll(cut);
    }

    return (gec0 & ~gec2) | gef5 | (cont ^ req)
           | ((isa->eq(p, 0xe0) << 1) & ~gea0)
           | ((isa->eq(p, 0xed) << 1) & gea0)
           | ((isa->eq(p, 0xf0) << 1) & ~ge90)
           | ((isa->eq(p, 0xf4) << 1) & ge90);
}


/*
 * One block at b (64 bytes readable), in the byte machine's state *state:
 * returns how many bytes it takes (0: none), with *state and ev's depth,
 * stack and "expect" as after them.  "deep": the container allows the
 * grammar to be checked here (smile_deep()); without it only the string
 * the block begins in is read, up to its closing quote.
 */

smile_inline unsigned
smile_block(smile_event_t *ev, const unsigned char *b, unsigned *state,
    int deep, const smile_isa_t *isa)
{
    int            in_str, trail;
    unsigned       i, n, lim, tail, depth, obj, prev, first_obj, last_br, e,
                   next, expect, cin;
    unsigned char  *top, saved[64];
    uint64_t       err, esc, quote, instr, qo, qc, out, ws, st, sc, rs, re,
                   d, first, ni, nd, ne, es, x, objctx, chg, br, cb, value,
                   s1, s3, s4, s5, ko, kcl, ends, cand;
    smile_masks_t  m;

    m = smile_classify(b, isa);

    in_str = (*state == sw_string);

    err = 0;
    esc = 0;
    tail = 64;

    if (m.bslash) {
        err |= smile_block_escapes(b, m.bslash, isa, &esc, &tail);
    }

    /* strings: the opening quote is "in", the closing one is not */

    quote = m.quote & ~esc;
    instr = isa->prefix_xor(quote) ^ (in_str ? ~(uint64_t) 0 : 0);
    qo = quote & instr;
    qc = quote & ~instr;
    out = ~(instr | qc);

    err |= m.ctl & instr;

    if (m.high) {
        err |= smile_block_utf8(b, m.high, isa, &tail);
    }

    if (!deep) {
        /* up to the closing quote of the string the block begins in */

        lim = err ? (unsigned) __builtin_ctzll(err) : 64;

        if (qc) {
            n = (unsigned) __builtin_ctzll(qc);
            return n < lim ? n : 0;
        }

        return lim == 64 ? tail : 0;
    }

    err |= out & ~(m.ws | m.open | m.close | m.comma | m.colon | m.scalar);

    ws = m.ws & out;
    st = (m.open | m.close | m.comma | m.colon) & out;
    sc = m.scalar & out;
    rs = sc & ~(sc << 1);
    re = sc & ~(sc >> 1) & ~SMILE_TOP;

    /* numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */

    d = m.digit & out;
    x = (rs & m.minus) << 1;
    first = (rs & d) | x;
    err |= (x & ~d) | (((first & m.zero) << 1) & d);

    ni = (first + d) & ~d;
    err |= ni & sc & ~(m.dot | m.exp);

    x = (ni & m.dot) << 1;
    err |= x & ~d;
    nd = (x + d) & ~d;
    err |= nd & sc & ~m.exp;

    es = ((ni | nd) & m.exp) << 1;

    if (es) {
        x = (es & ~m.sign) | ((es & m.sign) << 1);
        err |= x & ~d;
        ne = (x + d) & ~d;
        err |= ne & sc;
    }

    /* literals */

    for (x = rs & ~(d | m.minus); x; x &= x - 1) {
        i = (unsigned) __builtin_ctzll(x);
        err |= (smile_literal_ok(b, i, re) ^ 1) << i;
    }

    /* brackets: matched, within the depth limit, and each byte's container */

    depth = ev->depth;
    top = ev->stack + 64;
    first_obj = top[depth - 1];
    obj = first_obj;
    chg = 0;
    lim = 64;
    last_br = 0;
    br = (m.open | m.close) & out;

    /* no block pops more than 64 levels: what it may overwrite, to undo */
    memcpy(saved, top + depth - 64, 64);

    for ( /* void */ ; br; br &= br - 1) {
        i = (unsigned) __builtin_ctzll(br);
        prev = obj;

        /* '{' 0x7b and '}' 0x7d have 0x20, '{' and '[' 0x02 */
        obj = (b[i] >> 5) & 1;

        if (b[i] & 2) {

            if (depth == SMILE_MAX_DEPTH) {
                lim = i;
                break;
            }

            top[depth++] = (unsigned char) obj;

        } else {
            if (top[depth - 1] != obj) {
                lim = i;
                break;
            }

            obj = top[--depth - 1];

            if (__builtin_expect(depth <= 2, 0)
                && (depth == 1 || ev->in_data))
            {
                /* back to where the byte machine reads */
                last_br = i + 1;
                lim = i + 1;
                break;
            }
        }

        last_br = i + 1;

        /* the container changes after this bracket */
        chg |= (uint64_t) (obj ^ prev) << i;
    }

    /* each byte's container: object or array, from the changes */
    objctx = isa->prefix_xor(chg << 1) ^ (first_obj ? ~(uint64_t) 0 : 0);

    /* the grammar; the block's first token follows the machine's state */

    cin = smile_cin[*state];

    cb = m.close & out;
    value = qo | (m.open & out) | rs;

    /*
     * after '{', '[' and ',': a key in an object, a value in an array (a
     * byte's container is the one around what follows), and the closing
     * bracket only right after the opening one
     */
    s1 = smile_succ((m.open | m.comma) & out,
                    smile_cin_bit(cin, SMILE_CIN_OPEN), ws);
    err |= (s1 & objctx & ~(qo | cb)) | (s1 & ~objctx & ~(value | cb))
           | (smile_succ(m.comma & out, smile_cin_bit(cin, SMILE_CIN_COMMA),
                         ws) & cb);

    s3 = smile_succ(m.colon & out, smile_cin_bit(cin, SMILE_CIN_COLON), ws);
    err |= s3 & ~value;

    /* key strings: those at a key's place; the one the block began in */
    ko = (qo & objctx & s1)
         | (in_str && (ev->expect == sw_key_or_end || ev->expect == sw_key));
    kcl = (ko + instr) & qc;

    s4 = smile_succ(kcl, smile_cin_bit(cin, SMILE_CIN_KEY), ws);
    err |= s4 & ~(m.colon & out);

    s5 = smile_succ((qc & ~kcl) | re | cb, smile_cin_bit(cin, SMILE_CIN_END),
                    ws);
    err |= s5 & ~((m.comma | m.close) & out);

    /*
     * What to take: when nothing is wrong, up to the last place where the
     * state is known, which depends on none of the checks above, so that
     * the next block can start before they are done.
     */

    trail = (instr & SMILE_TOP) != 0;
    cand = st | qc | ws;

    n = trail ? tail : cand ? 64 - (unsigned) __builtin_clzll(cand) : 0;

    if (err) {
        i = (unsigned) __builtin_ctzll(err);
        lim = i < lim ? i : lim;
    }

    if (__builtin_expect(lim < 64 || n == 0, 0)) {
        /* up to the first byte wrong or not judged yet, or the closing
         * bracket back to where the byte machine reads */

        trail = 0;
        cand &= smile_below(lim);
        n = cand ? 64 - (unsigned) __builtin_clzll(cand) : 0;

        if (n == 0 || last_br > n) {
            /* nothing taken, or a bracket past what is taken: undo */
            memcpy(top + ev->depth - 64, saved, 64);
            return 0;
        }
    }

    next = *state;
    expect = ev->expect;

    if (trail) {
        /* inside a string: up to its last whole character */

        next = sw_string;

        if (qo) {
            i = 63 - (unsigned) __builtin_clzll(qo);
            expect = ((ko >> i) & 1) ? sw_key : sw_value;
        }

    } else {
        ends = (st | qc | re) & smile_below(n);

        if (ends) {
            e = 63 - (unsigned) __builtin_clzll(ends);
            x = (uint64_t) 1 << e;

            next = (m.open & x) ? ((b[e] == '{') ? sw_key_or_end
                                                 : sw_value_or_end)
                   : (m.comma & x) ? ((objctx & x) ? sw_key : sw_value)
                   : (m.colon & x) ? sw_value
                   : (kcl & x) ? sw_colon
                   : sw_next;
        }
    }

    if (next == sw_string && qo) {
        /* a string that began in the block: its value is not kept */
        ev->capture = SMILE_CAP_NONE;
    }

    ev->expect = (unsigned char) expect;
    ev->depth = (unsigned short) depth;
    ev->run = 0;
    *state = next;

    return n;
}


smile_inline const unsigned char *
smile_scan(smile_event_t *ev, const unsigned char *p,
    const unsigned char *last, unsigned *state, const smile_isa_t *isa)
{
    int       deep;
    unsigned  n;

    while (last - p >= SMILE_BLOCK) {

        if (*state == sw_string) {
            /* plain string bytes, 64 at a time */

            while (isa->plain(p)) {
                p += SMILE_BLOCK;

                if (last - p < SMILE_BLOCK) {
                    return p;
                }
            }

            /* a string that is out of place is only read to its end */
            deep = smile_deep(ev)
                   && (ev->expect == sw_key_or_end || ev->expect == sw_key
                       || ev->expect == sw_value
                       || ev->expect == sw_value_or_end);

        } else {
            deep = smile_deep(ev);

            if (!deep) {
                break;
            }
        }

        n = smile_block(ev, p, state, deep, isa);

        if (n == 0) {
            break;
        }

        p += n;
    }

    return p;
}


/* SSE2, the x86-64 baseline: four 16-byte vectors */

#define smile_sse2_masks(p, expr)                                            \
    ((uint64_t) (unsigned) smile_sse2_part((p), 0, expr)                     \
     | (uint64_t) (unsigned) smile_sse2_part((p), 1, expr) << 16             \
     | (uint64_t) (unsigned) smile_sse2_part((p), 2, expr) << 32             \
     | (uint64_t) (unsigned) smile_sse2_part((p), 3, expr) << 48)

#define smile_sse2_part(p, k, expr)                                          \
    __extension__ ({                                                         \
        __m128i  v = _mm_loadu_si128((const __m128i *) ((p) + 16 * (k)));    \
        _mm_movemask_epi8(expr);                                             \
    })

/* unsigned v <= n */
#define smile_sse2_le(v, n)                                                  \
    _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8((char) (n))), v)


smile_inline uint64_t
smile_sse2_eq(const unsigned char *p, int c)
{
    return smile_sse2_masks(p, _mm_cmpeq_epi8(v, _mm_set1_epi8((char) c)));
}


smile_inline uint64_t
smile_sse2_in(const unsigned char *p, int lo, int hi)
{
    return smile_sse2_masks(p, smile_sse2_le(_mm_sub_epi8(v,
                                             _mm_set1_epi8((char) lo)),
                                             hi - lo));
}


smile_inline uint64_t
smile_sse2_and_eq(const unsigned char *p, int m, int c)
{
    return smile_sse2_masks(p, _mm_cmpeq_epi8(_mm_and_si128(v,
                                              _mm_set1_epi8((char) m)),
                                              _mm_set1_epi8((char) c)));
}


smile_inline uint64_t
smile_sse2_below(const unsigned char *p, int k)
{
    return smile_sse2_masks(p, smile_sse2_le(v, k - 1));
}


smile_inline uint64_t
smile_sse2_high(const unsigned char *p)
{
    return smile_sse2_masks(p, v);
}


/* '"', '\\', below 0x20 or from 0x80 up (signed below 0x20) */
#define smile_sse2_special(v)                                                \
    _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),                     \
                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),         \
                              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))))

smile_inline int
smile_sse2_plain(const unsigned char *p)
{
    __m128i  s;

    s = _mm_or_si128(
            _mm_or_si128(
                smile_sse2_special(_mm_loadu_si128((const __m128i *) p)),
                smile_sse2_special(_mm_loadu_si128((const __m128i *)
                                                   (p + 16)))),
            _mm_or_si128(
                smile_sse2_special(_mm_loadu_si128((const __m128i *)
                                                   (p + 32))),
                smile_sse2_special(_mm_loadu_si128((const __m128i *)
                                                   (p + 48)))));

    return _mm_movemask_epi8(s) == 0;
}


static const smile_isa_t  smile_sse2 = {
    smile_sse2_eq,
    smile_sse2_in,
    smile_sse2_and_eq,
    smile_sse2_below,
    smile_sse2_high,
    smile_prefix_xor,
    smile_sse2_plain
};


static const unsigned char *
smile_scan_sse2(smile_event_t *ev, const unsigned char *p,
    const unsigned char *last, unsigned *state)
{
    return smile_scan(ev, p, last, state, &smile_sse2);
}


/* AVX2 (chosen at run time): two 32-byte vectors */

#define SMILE_AVX2                                                           \
    __attribute__((target("avx2,bmi,bmi2,pclmul")))

#define smile_avx2_masks(p, expr)                                            \
    ((uint64_t) (uint32_t) smile_avx2_part((p), 0, expr)                     \
     | (uint64_t) (uint32_t) smile_avx2_part((p), 1, expr) << 32)

#define smile_avx2_part(p, k, expr)                                          \
    __extension__ ({                                                         \
        __m256i  v = _mm256_loadu_si256((const __m256i *) ((p) + 32 * (k))); \
        _mm256_movemask_epi8(expr);                                          \
    })

#define smile_avx2_le(v, n)                                                  \
    _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8((char) (n))), v)


SMILE_AVX2 smile_inline uint64_t
smile_avx2_eq(const unsigned char *p, int c)
{
    return smile_avx2_masks(p, _mm256_cmpeq_epi8(v,
                                                 _mm256_set1_epi8((char) c)));
}


SMILE_AVX2 smile_inline uint64_t
smile_avx2_in(const unsigned char *p, int lo, int hi)
{
    return smile_avx2_masks(p, smile_avx2_le(_mm256_sub_epi8(v,
                                             _mm256_set1_epi8((char) lo)),
                                             hi - lo));
}


SMILE_AVX2 smile_inline uint64_t
smile_avx2_and_eq(const unsigned char *p, int m, int c)
{
    return smile_avx2_masks(p, _mm256_cmpeq_epi8(_mm256_and_si256(v,
                                                 _mm256_set1_epi8((char) m)),
                                                 _mm256_set1_epi8((char) c)));
}


SMILE_AVX2 smile_inline uint64_t
smile_avx2_below(const unsigned char *p, int k)
{
    return smile_avx2_masks(p, smile_avx2_le(v, k - 1));
}


SMILE_AVX2 smile_inline uint64_t
smile_avx2_high(const unsigned char *p)
{
    return smile_avx2_masks(p, v);
}


SMILE_AVX2 smile_inline uint64_t
smile_clmul_prefix_xor(uint64_t x)
{
    return (uint64_t) _mm_cvtsi128_si64(
               _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long) x),
                                    _mm_set1_epi8((char) 0xff), 0));
}


#define smile_avx2_special(v)                                                \
    _mm256_or_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v),            \
                    _mm256_or_si256(                                         \
                        _mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),         \
                        _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))))

SMILE_AVX2 smile_inline int
smile_avx2_plain(const unsigned char *p)
{
    return _mm256_movemask_epi8(_mm256_or_si256(
               smile_avx2_special(_mm256_loadu_si256((const __m256i *) p)),
               smile_avx2_special(_mm256_loadu_si256((const __m256i *)
                                                     (p + 32))))) == 0;
}


static const smile_isa_t  smile_avx2 = {
    smile_avx2_eq,
    smile_avx2_in,
    smile_avx2_and_eq,
    smile_avx2_below,
    smile_avx2_high,
    smile_clmul_prefix_xor,
    smile_avx2_plain
};


SMILE_AVX2 static const unsigned char *
smile_scan_avx2(smile_event_t *ev, const unsigned char *p,
    const unsigned char *last, unsigned *state)
{
    return smile_scan(ev, p, last, state, &smile_avx2);
}


/* AVX-512BW (chosen at run time): one 64-byte vector, masks directly */

#define SMILE_AVX512                                                         \
    __attribute__((target("avx512f,avx512bw,bmi,bmi2,pclmul")))

#define smile_avx512_v(p)         _mm512_loadu_si512((const void *) (p))
#define smile_avx512_set(c)       _mm512_set1_epi8((char) (c))


SMILE_AVX512 smile_inline uint64_t
smile_avx512_eq(const unsigned char *p, int c)
{
    return _mm512_cmpeq_epi8_mask(smile_avx512_v(p), smile_avx512_set(c));
}


SMILE_AVX512 smile_inline uint64_t
smile_avx512_in(const unsigned char *p, int lo, int hi)
{
    return _mm512_cmple_epu8_mask(_mm512_sub_epi8(smile_avx512_v(p),
                                                  smile_avx512_set(lo)),
                                  smile_avx512_set(hi - lo));
}


SMILE_AVX512 smile_inline uint64_t
smile_avx512_and_eq(const unsigned char *p, int m, int c)
{
    return _mm512_cmpeq_epi8_mask(_mm512_and_si512(smile_avx512_v(p),
                                                   smile_avx512_set(m)),
                                  smile_avx512_set(c));
}


SMILE_AVX512 smile_inline uint64_t
smile_avx512_below(const unsigned char *p, int k)
{
    return _mm512_cmplt_epu8_mask(smile_avx512_v(p), smile_avx512_set(k));
}


SMILE_AVX512 smile_inline uint64_t
smile_avx512_high(const unsigned char *p)
{
    return _mm512_movepi8_mask(smile_avx512_v(p));
}


SMILE_AVX512 smile_inline uint64_t
smile_avx512_prefix_xor(uint64_t x)
{
    return (uint64_t) _mm_cvtsi128_si64(
               _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long) x),
                                    _mm_set1_epi8((char) 0xff), 0));
}


SMILE_AVX512 smile_inline int
smile_avx512_plain(const unsigned char *p)
{
    return (smile_avx512_eq(p, '"') | smile_avx512_eq(p, '\\')
            | smile_avx512_below(p, 0x20) | smile_avx512_high(p)) == 0;
}


static const smile_isa_t  smile_avx512 = {
    smile_avx512_eq,
    smile_avx512_in,
    smile_avx512_and_eq,
    smile_avx512_below,
    smile_avx512_high,
    smile_avx512_prefix_xor,
    smile_avx512_plain
};


SMILE_AVX512 static const unsigned char *
smile_scan_avx512(smile_event_t *ev, const unsigned char *p,
    const unsigned char *last, unsigned *state)
{
    return smile_scan(ev, p, last, state, &smile_avx512);
}


static const unsigned char *
smile_fast(smile_event_t *ev, const unsigned char *p,
    const unsigned char *last, unsigned *state)
{
    switch (smile_simd) {

    case SMILE_SIMD_AVX512:
        return smile_scan_avx512(ev, p, last, state);

    case SMILE_SIMD_AVX2:
        return smile_scan_avx2(ev, p, last, state);

    case SMILE_SIMD_SSE2:
        return smile_scan_sse2(ev, p, last, state);

    default:
        return p;
    }
}

#else

static const unsigned char *
smile_fast(smile_event_t *ev, const unsigned char *p,
    const unsigned char *last, unsigned *state)
{
    return p;
}

#endif
