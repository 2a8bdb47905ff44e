
/*
 * bench/micro/parse_ops.c - the timed operations on one build of the
 * module's pure files.  Compiled once against the working tree (OPS_NAME
 * cur) and, for a side-by-side run, once against a base commit's files
 * (OPS_NAME base, their symbols renamed by bench/micro/run), so that both
 * run interleaved in one process.
 */


#include <string.h>

#include "smile.h"
#include "parse_bench.h"


#ifndef OPS_NAME
#define OPS_NAME  cur
#endif

#define OPS_CAT2(a, b)  a ## _ ## b
#define OPS_CAT(a, b)   OPS_CAT2(a, b)
#define OPS_STR2(a)     #a
#define OPS_STR(a)      OPS_STR2(a)


static smile_hmac_key_t  key;


static int
ops_init(const char *secret, size_t len)
{
    return smile_hmac_key_init(&key,
                                    (const unsigned char *) secret, len);
}


static void
ops_done(void)
{
    smile_hmac_key_free(&key);
}


/* hmac_start, hmac_update per buffer, hmac_final, hmac_free */

static int
op_hmac(const bench_body_t *b, size_t piece, unsigned *sink)
{
    size_t                          n, off;
    unsigned char                   out[SMILE_SIG_LEN];
    smile_hmac_t   h;

    memset(&h, 0, sizeof(h));

    if (smile_hmac_start(&h, &key) != 0) {
        return -1;
    }

    for (off = 0; off < b->len; off += n) {
        n = (piece && b->len - off > piece) ? piece : b->len - off;

        if (smile_hmac_update(&h, b->data + off, n) != 0) {
            return -1;
        }
    }

    if (smile_hmac_final(&h, &key, out) != 0) {
        return -1;
    }

    smile_hmac_free(&h);

    *sink += out[0];

    return 0;
}


/* event_init, event_feed per buffer, event_finish, event_free */

static int
op_parse(const bench_body_t *b, size_t piece, unsigned *sink)
{
    int                              rc;
    size_t                           n, off;
    smile_event_t   ev;

    if (smile_event_init(&ev) != 0) {
        return -1;
    }

    for (off = 0; off < b->len; off += n) {
        n = (piece && b->len - off > piece) ? piece : b->len - off;
        smile_event_feed(&ev, b->data + off, n);
    }

    rc = smile_event_finish(&ev);
    smile_event_free(&ev);

    *sink += ev.id.len;

    return rc;
}


/* the two, buffer by buffer, as the module's body filter does */

static int
op_both(const bench_body_t *b, size_t piece, unsigned *sink)
{
    int                              rc;
    size_t                           n, off;
    unsigned char                    out[SMILE_SIG_LEN];
    smile_hmac_t    h;
    smile_event_t   ev;

    memset(&h, 0, sizeof(h));

    if (smile_hmac_start(&h, &key) != 0
        || smile_event_init(&ev) != 0)
    {
        return -1;
    }

    for (off = 0; off < b->len; off += n) {
        n = (piece && b->len - off > piece) ? piece : b->len - off;

        if (smile_hmac_update(&h, b->data + off, n) != 0) {
            return -1;
        }

        smile_event_feed(&ev, b->data + off, n);
    }

    if (smile_hmac_final(&h, &key, out) != 0) {
        return -1;
    }

    rc = smile_event_finish(&ev);

    smile_hmac_free(&h);
    smile_event_free(&ev);

    *sink += out[0] + ev.id.len;

    return rc;
}


const bench_ops_t  OPS_CAT(OPS_NAME, ops) = {
    OPS_STR(OPS_NAME),
    ops_init,
    ops_done,
    op_hmac,
    op_parse,
    op_both,
#ifdef SMILE_SIMD_NONE
    smile_event_simd
#else
    NULL
#endif
};
