
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * Helpers shared by the libFuzzer targets: a deterministic PRNG seeded
 * from a hash of the input, chunk plans, and a loud failure that libFuzzer
 * records as a crash (with the input saved as an artifact).
 */


#ifndef _FUZZ_COMMON_H_INCLUDED_
#define _FUZZ_COMMON_H_INCLUDED_


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static inline void fuzz_fail(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));


static inline void
fuzz_fail(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "\n==FUZZ DISAGREEMENT== ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);

    abort();
}


static inline void *
fuzz_alloc(size_t n)
{
    void  *p;

    p = malloc(n ? n : 1);
    if (p == NULL) {
        fuzz_fail("out of memory (%zu bytes)", n);
    }

    return p;
}


/* a copy of exactly n bytes on the heap, so that ASan sees any overread */
static inline unsigned char *
fuzz_dup(const unsigned char *p, size_t n)
{
    unsigned char  *q;

    q = fuzz_alloc(n);

    if (n) {
        memcpy(q, p, n);
    }

    return q;
}


/* FNV-1a, 64 bit: the seed of everything derived from an input */
static inline uint64_t
fuzz_hash(const unsigned char *p, size_t n)
{
    size_t    i;
    uint64_t  h;

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


/* splitmix64 */
typedef struct {
    uint64_t  s;
} fuzz_rng_t;


static inline uint64_t
fuzz_rng(fuzz_rng_t *r)
{
    uint64_t  z;

    z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static inline size_t
fuzz_below(fuzz_rng_t *r, size_t n)
{
    return n ? (size_t) (fuzz_rng(r) % n) : 0;
}


/* a chunk plan: the lengths of successive feed() calls, zeros allowed */
typedef struct {
    size_t    n;
    size_t    cap;
    size_t   *len;
    size_t    total;
} fuzz_plan_t;


static inline void
fuzz_plan_add(fuzz_plan_t *pl, size_t len)
{
    size_t  *p;

    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 64;

        p = realloc(pl->len, pl->cap * sizeof(size_t));
        if (p == NULL) {
            fuzz_fail("out of memory");
        }

        pl->len = p;
    }

    pl->len[pl->n++] = len;
    pl->total += len;
}


static inline void
fuzz_plan_reset(fuzz_plan_t *pl)
{
    pl->n = 0;
    pl->total = 0;
}


static inline void
fuzz_plan_free(fuzz_plan_t *pl)
{
    free(pl->len);
    pl->len = NULL;
    pl->n = 0;
    pl->cap = 0;
    pl->total = 0;
}


/*
 * Random chunks of 1..max bytes (max 0: up to what is left), with an empty
 * feed now and then when "zeros" is set.
 */
static inline void
fuzz_plan_random(fuzz_plan_t *pl, fuzz_rng_t *r, size_t len, size_t max,
    int zeros)
{
    size_t  c, left;

    fuzz_plan_reset(pl);

    for (left = len; left; left -= c) {
        if (zeros && fuzz_below(r, 6) == 0) {
            fuzz_plan_add(pl, 0);
        }

        c = 1 + fuzz_below(r, max ? max : left);

        if (c > left) {
            c = left;
        }

        fuzz_plan_add(pl, c);
    }

    if (zeros && fuzz_below(r, 2) == 0) {
        fuzz_plan_add(pl, 0);
    }
}


/* the plan as text for a failure message, shortened */
static inline const char *
fuzz_plan_show(const fuzz_plan_t *pl)
{
    size_t       i, o;
    static char  buf[512];

    o = 0;
    buf[0] = '\0';

    for (i = 0; i < pl->n && o < sizeof(buf) - 32; i++) {
        o += snprintf(buf + o, sizeof(buf) - o, "%s%zu", i ? "," : "",
                      pl->len[i]);
    }

    if (i < pl->n) {
        snprintf(buf + o, sizeof(buf) - o, ",... (%zu chunks)", pl->n);
    }

    return buf;
}


/* bytes as C-escaped text for a failure message, shortened */
static inline const char *
fuzz_show(const unsigned char *p, size_t n)
{
    char        *buf;
    size_t       i, o;
    static int   k;
    static char  bufs[4][1024];

    /* a few buffers, so that one message may show several values */
    buf = bufs[k++ % 4];
    o = 0;

    for (i = 0; i < n && o < sizeof(bufs[0]) - 16; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
            buf[o++] = (char) p[i];

        } else {
            o += snprintf(buf + o, sizeof(bufs[0]) - o, "\\x%02x", p[i]);
        }
    }

    if (i < n) {
        o += snprintf(buf + o, sizeof(bufs[0]) - o, "...");
    }

    buf[o] = '\0';

    return buf;
}


#endif /* _FUZZ_COMMON_H_INCLUDED_ */
