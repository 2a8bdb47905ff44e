
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The reference event parser for fuzz_diff.c (see ref_event.h): the
 * module's parser as of commit c136cef, renamed.  yajl callbacks that keep
 * the few fields the module routes on.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#if (defined __SSE2__ && defined __GNUC__)
#include <emmintrin.h>
#define REF_SSE2  1
#endif

#include "ref_event.h"


enum {
    REF_F_NONE = 0,
    REF_F_ID,
    REF_F_TYPE,
    REF_F_CREATED_AT,
    REF_F_VERSION,
    REF_F_DATA,
    REF_F_USER_ID,
    REF_F_ACCOUNT_ID
};


typedef struct {
    const char             *name;
    size_t                  len;
    unsigned                field;
} ref_key_t;


/*
 * yajl's memory for one parse.  yajl_alloc() and the first yajl_parse()
 * ask for six small blocks (about 2.4 KB, most of it the lexer's buffer),
 * and every parse the same; they are cut from one arena instead, bump by
 * bump, each after a 16-byte header that keeps its size for realloc.  What
 * does not fit comes from malloc().  Arenas are kept for the next parse on
 * a short per-process free list (an nginx worker is one thread; so are the
 * unit tests and the fuzzers).
 */

#ifndef REF_ARENA_SIZE
#define REF_ARENA_SIZE    4096    /* smaller in a test of the fallback */
#endif
#define REF_ARENA_HDR     16
#define REF_ARENA_KEEP    16

typedef struct ref_arena_s  ref_arena_t;

struct ref_arena_s {
    ref_arena_t  *next;
    size_t                           used;
    size_t                           last;      /* the newest block */
    size_t                           pad;
    unsigned char                    data[REF_ARENA_SIZE];
};


static int ref_is(const unsigned char *p, size_t len,
    size_t max, unsigned char class);
static ref_arena_t *ref_arena_get(void);
static void ref_arena_put(
    ref_arena_t *a);
static size_t ref_arena_len(size_t size);
static void *ref_arena_malloc(void *ctx, size_t size);
static void *ref_arena_realloc(void *ctx, void *p,
    size_t size);
static void ref_arena_free(void *ctx, void *p);
static inline const unsigned char *ref_skip(
    ref_scan_t *s, const unsigned char *p,
    const unsigned char *last);
#if (REF_SSE2)
static inline __m128i ref_special(__m128i v, __m128i ctl,
    __m128i quote, __m128i bslash);
#endif
static int ref_parse(ref_event_t *ev,
    const unsigned char *p, size_t len);
static inline int ref_elide(
    ref_scan_t *s,
    unsigned char c);
static inline int ref_utf8(
    ref_scan_t *s,
    unsigned char c);
static int ref_fail(ref_event_t *ev,
    const char *reason);
static int ref_scalar(ref_event_t *ev,
    int is_string, const unsigned char *p, size_t len);
static int ref_set(ref_field_t *f,
    const unsigned char *p, size_t len);
static int ref_on_null(void *ctx);
static int ref_on_boolean(void *ctx, int v);
static int ref_on_number(void *ctx, const char *s,
    size_t len);
static int ref_on_string(void *ctx,
    const unsigned char *s, size_t len);
static int ref_on_start_map(void *ctx);
static int ref_on_map_key(void *ctx,
    const unsigned char *key, size_t len);
static int ref_on_end(void *ctx);
static int ref_on_start_array(void *ctx);


static const yajl_callbacks  ref_callbacks = {
    ref_on_null,
    ref_on_boolean,
    NULL,
    NULL,
    ref_on_number,
    ref_on_string,
    ref_on_start_map,
    ref_on_map_key,
    ref_on_end,
    ref_on_start_array,
    ref_on_end
};


static ref_arena_t  *ref_arenas;
static unsigned                         ref_narenas;


static const ref_key_t  ref_top[] = {
    { "id", 2, REF_F_ID },
    { "type", 4, REF_F_TYPE },
    { "createdAt", 9, REF_F_CREATED_AT },
    { "version", 7, REF_F_VERSION },
    { "data", 4, REF_F_DATA },
    { NULL, 0, REF_F_NONE }
};


static const ref_key_t  ref_data[] = {
    { "userId", 6, REF_F_USER_ID },
    { "accountId", 9, REF_F_ACCOUNT_ID },
    { NULL, 0, REF_F_NONE }
};


/* printable ASCII but '"' and '\\': string bytes that change no state */

static const unsigned char  ref_plain[256] = {
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
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0   /* f0 */
};


/*
 * Bytes outside strings that continue a number or a literal as far as the
 * scanner is concerned: all but white space (\f and \v included), '"',
 * ',', ':' and brackets.  yajl judges them.
 */

static const unsigned char  ref_token[256] = {
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


/*
 * The bytes of the safe patterns: 1 type [A-Z0-9_], 2 id [A-Za-z0-9._:-],
 * 4 createdAt [0-9A-Za-z:.+-], 8 version [0-9].
 */

#define REF_C_TYPE        1
#define REF_C_ID          2
#define REF_C_TIME        4
#define REF_C_VERSION     8

static const unsigned char  ref_class[256] = {
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
ref_is_type(const unsigned char *p, size_t len)
{
    return ref_is(p, len, REF_TYPE_MAX,
                                     REF_C_TYPE);
}


int
ref_is_id(const unsigned char *p, size_t len)
{
    return ref_is(p, len, REF_ID_MAX,
                                     REF_C_ID);
}


int
ref_is_time(const unsigned char *p, size_t len)
{
    return ref_is(p, len, REF_TIME_MAX,
                                     REF_C_TIME);
}


int
ref_is_version(const unsigned char *p, size_t len)
{
    return ref_is(p, len, REF_VERSION_MAX,
                                     REF_C_VERSION);
}


/* 1..max bytes, each in the class */

static int
ref_is(const unsigned char *p, size_t len, size_t max,
    unsigned char class)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!(ref_class[p[i]] & class)) {
            return 0;
        }
    }

    return 1;
}


int
ref_event_init(ref_event_t *ev)
{
    yajl_alloc_funcs                 afs;
    ref_arena_t  *a;

    memset(ev, 0, sizeof(ref_event_t));

    a = ref_arena_get();
    if (a == NULL) {
        return -1;
    }

    afs.malloc = ref_arena_malloc;
    afs.realloc = ref_arena_realloc;
    afs.free = ref_arena_free;
    afs.ctx = a;

    ev->yajl = yajl_alloc(&ref_callbacks, &afs, ev);
    if (ev->yajl == NULL) {
        ref_arena_put(a);
        return -1;
    }

    ev->arena = a;

    return 0;
}


static ref_arena_t *
ref_arena_get(void)
{
    ref_arena_t  *a;

    a = ref_arenas;

    if (a) {
        ref_arenas = a->next;
        ref_narenas--;

    } else {
        a = malloc(sizeof(ref_arena_t));
        if (a == NULL) {
            return NULL;
        }
    }

    a->next = NULL;
    a->used = 0;
    a->last = 0;

    return a;
}


static void
ref_arena_put(ref_arena_t *a)
{
    if (ref_narenas >= REF_ARENA_KEEP) {
        free(a);
        return;
    }

    a->next = ref_arenas;
    ref_arenas = a;
    ref_narenas++;
}


void
ref_event_exit(void)
{
    ref_arena_t  *a;

    while (ref_arenas) {
        a = ref_arenas;
        ref_arenas = a->next;
        free(a);
    }

    ref_narenas = 0;
}


/* a block's header and its size rounded up to keep blocks aligned */

static size_t
ref_arena_len(size_t size)
{
    return REF_ARENA_HDR
           + ((size + REF_ARENA_HDR - 1)
              & ~(size_t) (REF_ARENA_HDR - 1));
}


static void *
ref_arena_malloc(void *ctx, size_t size)
{
    size_t                           n;
    unsigned char                   *h;
    ref_arena_t  *a = ctx;

    n = ref_arena_len(size);

    if (size == 0 || size > REF_ARENA_SIZE
        || n > REF_ARENA_SIZE - a->used)
    {
        return malloc(size);
    }

    h = a->data + a->used;
    memcpy(h, &size, sizeof(size_t));

    a->last = a->used;
    a->used += n;

    return h + REF_ARENA_HDR;
}


static void *
ref_arena_realloc(void *ctx, void *p, size_t size)
{
    size_t                           old, n;
    unsigned char                   *h, *q;
    ref_arena_t  *a = ctx;

    if (p == NULL) {
        return ref_arena_malloc(ctx, size);
    }

    if ((uintptr_t) p < (uintptr_t) a->data
        || (uintptr_t) p >= (uintptr_t) (a->data + REF_ARENA_SIZE))
    {
        return realloc(p, size);
    }

    h = (unsigned char *) p - REF_ARENA_HDR;
    memcpy(&old, h, sizeof(size_t));

    if (size <= old) {
        return p;
    }

    /* the newest block grows in place when the arena has room */

    n = ref_arena_len(size);

    if ((size_t) (h - a->data) == a->last
        && size <= REF_ARENA_SIZE
        && n <= REF_ARENA_SIZE - a->last)
    {
        memcpy(h, &size, sizeof(size_t));
        a->used = a->last + n;
        return p;
    }

    q = ref_arena_malloc(ctx, size);
    if (q == NULL) {
        return NULL;
    }

    memcpy(q, p, old);

    return q;
}


/* arena blocks go back with the arena, in event_free() */

static void
ref_arena_free(void *ctx, void *p)
{
    ref_arena_t  *a = ctx;

    if ((uintptr_t) p < (uintptr_t) a->data
        || (uintptr_t) p >= (uintptr_t) (a->data + REF_ARENA_SIZE))
    {
        free(p);
    }
}


/*
 * The scanner's state lives in a local copy while a buffer is scanned, so
 * that the compiler keeps it in registers, and is stored back on the way
 * out; the yajl callbacks do not use it.
 */

void
ref_event_feed(ref_event_t *ev,
    const unsigned char *p, size_t len)
{
    unsigned char                   c;
    const unsigned char            *start, *last;
    ref_scan_t   s;

    if (ev->error || len == 0) {
        return;
    }

    s = ev->scan;

    start = p;
    last = p + len;

    for ( /* void */ ; p < last; p++) {

        if (s.in_string && !s.escape && !s.hex && !s.utf8) {
            p = ref_skip(&s, p, last);

            if (p == last) {
                break;
            }

            if (*p == '"' && !s.eliding) {
                /* the closing quote of a string that yajl is fed */
                s.in_string = 0;
                s.run = 0;
                continue;
            }
        }

        c = *p;

        if (s.eliding) {

        elide:

            switch (ref_elide(&s, c)) {

            case 0:
                continue;

            case 1:
                /* the closing quote of an elided string */

                s.eliding = 0;
                s.in_string = 0;
                s.run = 0;

                if (!ref_parse(ev,
                                            (const unsigned char *) "~\"", 2))
                {
                    goto done;
                }

                start = p + 1;
                continue;

            case -2:
                ref_fail(ev, "invalid UTF-8 in a string");
                goto done;

            default:
                ref_fail(ev, "body is not valid JSON");
                goto done;
            }
        }

        if (!s.in_string) {

            if (s.closed
                && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            {
                /*
                 * yajl takes an unterminated string after the top-level
                 * value for a token still to come, and then for nothing
                 */

                if (ref_parse(ev, start, p - start)) {
                    ref_fail(ev, "body is not valid JSON");
                }

                goto done;
            }

            switch (c) {

            case '"':
                s.in_string = 1;
                s.run = 0;
                break;

            case '{': case '[':
                s.nesting++;
                s.run = 0;
                break;

            case '}': case ']':
                if (s.nesting && --s.nesting == 0) {
                    s.closed = 1;
                }

                s.run = 0;
                break;

            case ' ': case '\t': case '\r': case '\n': case ',': case ':':
                s.run = 0;

                /* the rest of a run of white space, as in indented JSON */

                while (p + 1 < last
                       && (p[1] == ' ' || p[1] == '\n' || p[1] == '\r'
                           || p[1] == '\t'))
                {
                    p++;
                }

                break;

            case '\f': case '\v':
                /* yajl skips these as white space; JSON does not */

                if (ref_parse(ev, start, p - start)) {
                    ref_fail(ev, "body is not valid JSON");
                }

                goto done;

            default:

                /* a number or a literal, up to the next byte of another kind */

                for ( ;; ) {
                    if (++s.run > REF_TOKEN_MAX) {
                        /* what came before is parsed, whatever the split */
                        if (ref_parse(ev, start,
                                                         p - start))
                        {
                            ref_fail(ev,
                                                        "JSON token too long");
                        }

                        goto done;
                    }

                    if (p + 1 == last
                        || !ref_token[p[1]])
                    {
                        break;
                    }

                    p++;
                }
            }

            continue;
        }

        /* inside a string that yajl is fed */

        if (s.hex) {
            s.hex--;

        } else if (s.escape) {
            s.escape = 0;

            if (c == 'u') {
                s.hex = 4;
            }

        } else if (c == '"' && s.utf8 == 0) {
            s.in_string = 0;
            s.run = 0;
            continue;

        } else if (s.run >= REF_STRING_FED && s.utf8 == 0) {

            /* a character boundary outside any escape: elide from here */

            if (!ref_parse(ev, start, p - start)) {
                goto done;
            }

            s.eliding = 1;
            goto elide;

        } else if (c == '\\' && s.utf8 == 0) {
            s.escape = 1;

        } else if (ref_utf8(&s, c) != 0) {
            /* what came before is parsed, whatever the split */
            if (ref_parse(ev, start, p - start)) {
                ref_fail(ev, "invalid UTF-8 in a string");
            }

            goto done;
        }

        s.run++;
    }

    if (!s.eliding) {
        (void) ref_parse(ev, start, last - start);
    }

done:

    ev->scan = s;
}


/*
 * The common case inside a string: printable ASCII other than '"' and '\\'
 * needs no state change, so a run of it is passed over in a tight loop,
 * 16 bytes at a time with SSE2.  A string fed to yajl stops at
 * REF_STRING_FED bytes, where the byte-by-byte code elides the rest.
 */

static inline const unsigned char *
ref_skip(ref_scan_t *s,
    const unsigned char *p, const unsigned char *last)
{
    const unsigned char  *q, *lim;
#if (REF_SSE2)
    int                   mask;
    size_t                n;
    __m128i               v0, v1, v2, v3, ctl, quote, bslash;
#endif

    lim = last;

    if (!s->eliding) {
        if (s->run >= REF_STRING_FED) {
            return p;
        }

        if ((size_t) (last - p) > REF_STRING_FED - s->run) {
            lim = p + (REF_STRING_FED - s->run);
        }
    }

    q = p;

#if (REF_SSE2)

    /*
     * A signed compare with 0x20 catches both the control bytes and the
     * bytes from 0x80 up.  16 bytes first, then 64 bytes a round while
     * nothing is found, then 16 bytes at a time to the first byte that
     * needs attention.  Loads stay inside the buffer but may pass "lim"
     * (the fed limit); what they see there is not used.  So a short string
     * is passed over in one load, whenever 16 bytes of the buffer are left.
     */

    if (last - q >= 16 && ref_plain[*q]) {
        ctl = _mm_set1_epi8(0x20);
        quote = _mm_set1_epi8('"');
        bslash = _mm_set1_epi8('\\');

        /* most strings end within their first 16 bytes */

        v0 = _mm_loadu_si128((const __m128i *) q);
        mask = _mm_movemask_epi8(
                   ref_special(v0, ctl, quote, bslash));

        if (mask) {
            n = __builtin_ctz(mask);
            q = (n < (size_t) (lim - q)) ? q + n : lim;
            goto found;
        }

        if (lim - q <= 16) {
            q = lim;
            goto found;
        }

        q += 16;

        while (lim - q >= 64) {
            v0 = _mm_loadu_si128((const __m128i *) q);
            v1 = _mm_loadu_si128((const __m128i *) (q + 16));
            v2 = _mm_loadu_si128((const __m128i *) (q + 32));
            v3 = _mm_loadu_si128((const __m128i *) (q + 48));

            v0 = ref_special(v0, ctl, quote, bslash);
            v1 = ref_special(v1, ctl, quote, bslash);
            v2 = ref_special(v2, ctl, quote, bslash);
            v3 = ref_special(v3, ctl, quote, bslash);

            v0 = _mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3));

            if (_mm_movemask_epi8(v0)) {
                break;
            }

            q += 64;
        }

        while (last - q >= 16) {
            v0 = _mm_loadu_si128((const __m128i *) q);
            mask = _mm_movemask_epi8(
                       ref_special(v0, ctl, quote, bslash));

            if (mask) {
                n = __builtin_ctz(mask);
                q = (n < (size_t) (lim - q)) ? q + n : lim;
                goto found;
            }

            if (lim - q <= 16) {
                q = lim;
                goto found;
            }

            q += 16;
        }
    }

#endif

    for ( /* void */ ; q < lim && ref_plain[*q]; q++) {
        /* void */
    }

#if (REF_SSE2)
found:
#endif

    if (!s->eliding) {
        s->run += q - p;
    }

    return q;
}


#if (REF_SSE2)

/* 0xff in each byte of v that is '"', '\\', below 0x20 or from 0x80 up */

static inline __m128i
ref_special(__m128i v, __m128i ctl, __m128i quote,
    __m128i bslash)
{
    return _mm_or_si128(_mm_cmplt_epi8(v, ctl),
                        _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                     _mm_cmpeq_epi8(v, bslash)));
}

#endif


static int
ref_parse(ref_event_t *ev,
    const unsigned char *p, size_t len)
{
    if (len == 0) {
        return 1;
    }

    if (yajl_parse(ev->yajl, p, len) != yajl_status_ok) {
        return ref_fail(ev, "body is not valid JSON");
    }

    return ev->error == NULL;
}


/*
 * One byte of an elided string, checked as a string byte is everywhere:
 * 0 to go on, 1 at the closing quote, -1 when it is not valid JSON, -2
 * when it is not valid UTF-8.
 */

static inline int
ref_elide(ref_scan_t *s,
    unsigned char c)
{
    if (s->utf8) {
        return ref_utf8(s, c) == 0 ? 0 : -2;
    }

    if (s->hex) {
        if (!((c >= '0' && c <= '9')
              || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')))
        {
            return -1;
        }

        s->hex--;
        return 0;
    }

    if (s->escape) {
        s->escape = 0;

        switch (c) {
        case '"': case '\\': case '/':
        case 'b': case 'f': case 'n': case 'r': case 't':
            return 0;

        case 'u':
            s->hex = 4;
            return 0;

        default:
            return -1;
        }
    }

    if (c == '"') {
        return 1;
    }

    if (c == '\\') {
        s->escape = 1;
        return 0;
    }

    if (c < 0x20) {
        return -1;
    }

    return ref_utf8(s, c) == 0 ? 0 : -2;
}


/*
 * Strict UTF-8 (RFC 3629), one byte at a time: no overlong forms, no
 * surrogates, nothing above U+10FFFF.  yajl checks only the bit patterns.
 */

static inline int
ref_utf8(ref_scan_t *s,
    unsigned char c)
{
    if (s->utf8) {
        if (c < s->lo || c > s->hi) {
            return -1;
        }

        s->lo = 0x80;
        s->hi = 0xbf;
        s->utf8--;

        return 0;
    }

    if (c < 0x80) {
        return 0;
    }

    s->lo = 0x80;
    s->hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        s->utf8 = 1;

    } else if (c == 0xe0) {
        s->utf8 = 2;
        s->lo = 0xa0;

    } else if (c == 0xed) {
        s->utf8 = 2;
        s->hi = 0x9f;

    } else if (c >= 0xe1 && c <= 0xef) {
        s->utf8 = 2;

    } else if (c == 0xf0) {
        s->utf8 = 3;
        s->lo = 0x90;

    } else if (c >= 0xf1 && c <= 0xf3) {
        s->utf8 = 3;

    } else if (c == 0xf4) {
        s->utf8 = 3;
        s->hi = 0x8f;

    } else {
        return -1;
    }

    return 0;
}


int
ref_event_finish(ref_event_t *ev)
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
ref_event_free(ref_event_t *ev)
{
    if (ev->yajl) {
        yajl_free(ev->yajl);
        ev->yajl = NULL;
    }

    if (ev->arena) {
        ref_arena_put(ev->arena);
        ev->arena = NULL;
    }
}


static int
ref_fail(ref_event_t *ev,
    const char *reason)
{
    if (ev->error == NULL) {
        ev->error = reason;
    }

    return 0;
}


static int
ref_set(ref_field_t *f,
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
ref_scalar(ref_event_t *ev,
    int is_string, const unsigned char *p, size_t len)
{
    unsigned  field;

    field = ev->field;
    ev->field = REF_F_NONE;

    if (ev->depth == 0) {
        return ref_fail(ev, "body is not a JSON object");
    }

    switch (field) {

    case REF_F_ID:
        if (!is_string) {
            return ref_fail(ev, "\"id\" is not a string");
        }

        if (!ref_is_id(p, len)) {
            return ref_fail(ev,
                                    "\"id\" does not match the safe pattern");
        }

        return ref_set(&ev->id, p, len);

    case REF_F_TYPE:
        if (!is_string) {
            return ref_fail(ev, "\"type\" is not a string");
        }

        if (!ref_is_type(p, len)) {
            return ref_fail(ev,
                                  "\"type\" does not match the safe pattern");
        }

        return ref_set(&ev->type, p, len);

    case REF_F_CREATED_AT:
        if (!is_string) {
            return ref_fail(ev,
                                               "\"createdAt\" is not a string");
        }

        if (!ref_is_time(p, len)) {
            return ref_fail(ev,
                             "\"createdAt\" does not match the safe pattern");
        }

        return ref_set(&ev->created_at, p, len);

    case REF_F_USER_ID:
        if (!is_string) {
            return ref_fail(ev,
                                          "\"data.userId\" is not a string");
        }

        if (!ref_is_id(p, len)) {
            return ref_fail(ev,
                           "\"data.userId\" does not match the safe pattern");
        }

        return ref_set(&ev->user_id, p, len);

    case REF_F_ACCOUNT_ID:
        if (is_string && ref_is_id(p, len)) {
            return ref_set(&ev->account_id, p, len);
        }

        return 1;

    case REF_F_VERSION:
        if (!is_string && p != NULL
            && ref_is_version(p, len))
        {
            return ref_set(&ev->version, p, len);
        }

        return 1;

    default:
        return 1;
    }
}


static int
ref_on_null(void *ctx)
{
    return ref_scalar(ctx, 0, NULL, 0);
}


static int
ref_on_boolean(void *ctx, int v)
{
    return ref_scalar(ctx, 0, NULL, 0);
}


static int
ref_on_number(void *ctx, const char *s, size_t len)
{
    return ref_scalar(ctx, 0, (const unsigned char *) s,
                                         len);
}


static int
ref_on_string(void *ctx, const unsigned char *s,
    size_t len)
{
    return ref_scalar(ctx, 1, s, len);
}


static int
ref_on_start_map(void *ctx)
{
    ref_event_t *ev = ctx;

    if (ev->depth == 0) {
        ev->started = 1;
        ev->depth = 1;
        return 1;
    }

    if (ev->depth == 1 && ev->field == REF_F_DATA) {
        ev->in_data = 1;
        ev->field = REF_F_NONE;

    } else if (!ref_scalar(ev, 0, NULL, 0)) {
        return 0;
    }

    if (++ev->depth > REF_MAX_DEPTH) {
        return ref_fail(ev, "JSON is nested too deeply");
    }

    return 1;
}


static int
ref_on_start_array(void *ctx)
{
    ref_event_t *ev = ctx;

    if (!ref_scalar(ev, 0, NULL, 0)) {
        return 0;
    }

    if (++ev->depth > REF_MAX_DEPTH) {
        return ref_fail(ev, "JSON is nested too deeply");
    }

    return 1;
}


static int
ref_on_end(void *ctx)
{
    ref_event_t *ev = ctx;

    ev->depth--;
    ev->field = REF_F_NONE;

    if (ev->depth == 1) {
        ev->in_data = 0;

    } else if (ev->depth == 0) {
        ev->done = 1;
    }

    return 1;
}


static int
ref_on_map_key(void *ctx, const unsigned char *key,
    size_t len)
{
    unsigned                             bit;
    const ref_key_t  *k;
    ref_event_t      *ev = ctx;

    ev->field = REF_F_NONE;

    if (ev->depth == 1) {
        k = ref_top;

    } else if (ev->depth == 2 && ev->in_data) {
        k = ref_data;

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
        return ref_fail(ev, "duplicate key in event");
    }

    ev->seen |= bit;
    ev->field = k->field;

    return 1;
}
