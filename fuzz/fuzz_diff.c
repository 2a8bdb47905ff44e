
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * libFuzzer target: the event parser against the one it replaced.
 *
 * The reference (ref_event.c) is the yajl-based parser of commit c136cef,
 * renamed.  Each input is judged as two bodies: the input itself, and an
 * event generated from it (generate() below: the input's bytes choose the
 * shape, so mutations of the input are mutations of the event's
 * structure) with a few bytes then changed, inserted or cut, which keeps
 * most of it valid and puts the errors anywhere, also deep in containers
 * and long strings where the block scanner runs.
 *
 * Each body goes to the reference whole, and to the parser at each block
 * scanner level the CPU has (none, SSE2, AVX2, AVX-512), whole, in random
 * pieces of 1-8 (1-64 above 8 KB), 1-100 and 1-5000 bytes with empty feeds
 * between them, and for small bodies byte by byte.  Every answer must be
 * the reference's: rc, the error text, id, type, createdAt, version,
 * data.userId and data.accountId (also when rc is -1: the fields kept
 * before the error), and the started and done flags.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smile.h"
#include "ref_event.h"
#include "fuzz_common.h"


#define DIFF_BYTEWISE_MAX  2048
#define DIFF_GEN_MAX       (48 * 1024)


typedef struct {
    int                 rc;
    const char         *error;
    unsigned            started;
    unsigned            done;
    smile_field_t       f[6];
} diff_result_t;


static const char  *diff_names[6] = {
    "id", "type", "createdAt", "version", "data.userId", "data.accountId"
};


#define diff_copy(r, ev)                                                     \
    do {                                                                     \
        (r)->error = (ev).error;                                             \
        (r)->started = (ev).started;                                         \
        (r)->done = (ev).done;                                               \
        diff_field(&(r)->f[0], (ev).id.data, (ev).id.len);                   \
        diff_field(&(r)->f[1], (ev).type.data, (ev).type.len);               \
        diff_field(&(r)->f[2], (ev).created_at.data, (ev).created_at.len);   \
        diff_field(&(r)->f[3], (ev).version.data, (ev).version.len);         \
        diff_field(&(r)->f[4], (ev).user_id.data, (ev).user_id.len);         \
        diff_field(&(r)->f[5], (ev).account_id.data, (ev).account_id.len);   \
    } while (0)


static void
diff_field(smile_field_t *f, const unsigned char *p, size_t len)
{
    if (len > SMILE_ID_MAX) {
        fuzz_fail("a field of %zu bytes", len);
    }

    memcpy(f->data, p, len);
    f->data[len] = '\0';
    f->len = len;
}


static void
diff_ref(const unsigned char *body, size_t len, diff_result_t *r)
{
    ref_event_t  ev;

    memset(r, 0, sizeof(diff_result_t));

    if (ref_event_init(&ev) != 0) {
        fuzz_fail("ref_event_init failed");
    }

    ref_event_feed(&ev, body, len);
    r->rc = ref_event_finish(&ev);
    diff_copy(r, ev);
    ref_event_free(&ev);
}


static void
diff_new(const unsigned char *body, const fuzz_plan_t *pl, diff_result_t *r)
{
    size_t          i, off;
    unsigned char  *chunk;
    smile_event_t   ev;

    memset(r, 0, sizeof(diff_result_t));

    if (smile_event_init(&ev) != 0) {
        fuzz_fail("smile_event_init failed");
    }

    for (i = 0, off = 0; i < pl->n; i++) {
        /* an exact heap copy, scribbled over and freed after the feed */
        chunk = fuzz_dup(body + off, pl->len[i]);
        smile_event_feed(&ev, chunk, pl->len[i]);
        memset(chunk, 0xa5, pl->len[i]);
        free(chunk);
        off += pl->len[i];
    }

    r->rc = smile_event_finish(&ev);
    diff_copy(r, ev);
    smile_event_free(&ev);
}


static const char *
diff_differ(const diff_result_t *a, const diff_result_t *b)
{
    int  i;

    if (a->rc != b->rc) {
        return "rc";
    }

    if ((a->error == NULL) != (b->error == NULL)
        || (a->error && strcmp(a->error, b->error) != 0))
    {
        return "error";
    }

    for (i = 0; i < 6; i++) {
        if (a->f[i].len != b->f[i].len
            || memcmp(a->f[i].data, b->f[i].data, a->f[i].len) != 0)
        {
            return diff_names[i];
        }
    }

    if (a->started != b->started) {
        return "started";
    }

    if (a->rc == 0 && a->done != b->done) {
        return "done";
    }

    return NULL;
}


static void
diff_dump(const char *what, const diff_result_t *r)
{
    int  i;

    fprintf(stderr, "  %s: rc=%d error=%s started=%u done=%u\n", what, r->rc,
            r->error ? r->error : "NULL", r->started, r->done);

    for (i = 0; i < 6; i++) {
        if (r->f[i].len) {
            fprintf(stderr, "    %s=\"%s\"\n", diff_names[i],
                    fuzz_show(r->f[i].data, r->f[i].len));
        }
    }
}


/* FUZZ_DIFF_DUMP=FILE: the body that failed goes there too */

static void
diff_dump_body(const unsigned char *body, size_t len)
{
    FILE        *f;
    const char  *path;

    path = getenv("FUZZ_DIFF_DUMP");

    if (path == NULL || (f = fopen(path, "wb")) == NULL) {
        return;
    }

    if (fwrite(body, 1, len, f) != len) {
        fprintf(stderr, "  could not write %s\n", path);
    }

    fclose(f);
}


static void
diff_check(const unsigned char *body, size_t len, uint64_t seed)
{
    int            level, top, which;
    fuzz_rng_t     rng;
    fuzz_plan_t    pl;
    const char    *what;
    diff_result_t  ref, got;

    static const char  *plans[] = {
        "whole", "1-8 (1-64 above 8 KB)", "1-100", "1-5000", "bytes"
    };

    diff_ref(body, len, &ref);

    memset(&pl, 0, sizeof(pl));
    rng.s = seed;

    top = smile_event_simd(SMILE_SIMD_AVX512);

    for (level = SMILE_SIMD_NONE; level <= top; level++) {
        (void) smile_event_simd(level);

        for (which = 0; which < 5; which++) {
            fuzz_plan_reset(&pl);

            switch (which) {
            case 0:
                fuzz_plan_add(&pl, len);
                break;
            case 1:
                /* small pieces; larger ones in a large body, for speed */
                fuzz_plan_random(&pl, &rng, len,
                                 len > DIFF_BYTEWISE_MAX * 4 ? 64 : 8, 1);
                break;
            case 2:
                fuzz_plan_random(&pl, &rng, len, 100, 1);
                break;
            case 3:
                fuzz_plan_random(&pl, &rng, len, 5000, 1);
                break;
            default:
                if (len > DIFF_BYTEWISE_MAX || level != SMILE_SIMD_NONE) {
                    continue;
                }

                fuzz_plan_random(&pl, &rng, len, 1, 0);
            }

            diff_new(body, &pl, &got);

            what = diff_differ(&ref, &got);

            if (what) {
                fprintf(stderr, "\ndifferential disagreement on %s; "
                        "body %zu bytes: \"%s\"\n", what, len,
                        fuzz_show(body, len));
                diff_dump("reference", &ref);
                diff_dump("parser", &got);
                fprintf(stderr, "  block scanner level %d, plan %s: %s\n",
                        level, plans[which], fuzz_plan_show(&pl));
                diff_dump_body(body, len);
                fuzz_fail("the parser and the reference disagree (%s)", what);
            }
        }
    }

    (void) smile_event_simd(top);
    fuzz_plan_free(&pl);
}


/* ------------------------------------------------------------------ */
/* the event generator                                                 */

typedef struct {
    const unsigned char  *in;       /* the choices */
    size_t                in_len;
    size_t                in_pos;
    fuzz_rng_t            rng;      /* when they run out */
    unsigned char        *out;
    size_t                len;
    size_t                max;
    unsigned              style;    /* white space */
} diff_gen_t;


static unsigned
gen_pick(diff_gen_t *g, unsigned n)
{
    unsigned  v;

    if (g->in_pos < g->in_len) {
        v = g->in[g->in_pos++];

    } else {
        v = (unsigned) fuzz_rng(&g->rng);
    }

    return n ? v % n : 0;
}


static void
gen_put(diff_gen_t *g, const char *s, size_t n)
{
    if (g->len + n > g->max) {
        n = g->max - g->len;
    }

    memcpy(g->out + g->len, s, n);
    g->len += n;
}


static void
gen_str(diff_gen_t *g, const char *s)
{
    gen_put(g, s, strlen(s));
}


static void
gen_ws(diff_gen_t *g)
{
    static const char  *ws[] = { "", " ", "\n  ", "\r\n", "\t", "   \n    " };

    if (g->style) {
        gen_str(g, ws[gen_pick(g, g->style == 1 ? 2 : 6)]);
    }
}


/* string contents: plain text and everything strings can hold */

static void
gen_chars(diff_gen_t *g, size_t n)
{
    size_t  i;

    static const char  *pieces[] = {
        "a", "Z", "0", " ", "~", "-", ".", ":", "{", "}", "[", "]", ",",
        "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\b", "\\f", "\\r",
        "\\u0041", "\\u00e9", "\\u4E2d", "\\ud83d\\ude00", "\\ud83d",
        "\\u0000", "\\udc00",
        "\xc3\xa9", "\xe4\xb8\xad", "\xe6\x96\x87", "\xf0\x9f\x98\x80",
        "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
        "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf", "\x7f",
        /* wrong ones, rarely */
        "\\q", "\\u12G4", "\x01", "\xff", "\x80", "\xc0\xaf",
        "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe4\xb8", "\"", "\\"
    };

    for (i = 0; i < n; i++) {
        if (gen_pick(g, 4)) {
            gen_put(g, &"abcdefghij"[gen_pick(g, 10)], 1);

        } else {
            unsigned  k = gen_pick(g, sizeof(pieces) / sizeof(pieces[0]));

            /* the last 11 are wrong: only one in 16 of those picks */
            if (k >= sizeof(pieces) / sizeof(pieces[0]) - 11
                && gen_pick(g, 16))
            {
                k = gen_pick(g, 8);
            }

            gen_str(g, pieces[k]);
        }
    }
}


static void
gen_string(diff_gen_t *g)
{
    unsigned  n;

    gen_put(g, "\"", 1);

    switch (gen_pick(g, 8)) {
    case 0:
        n = 0;
        break;
    case 1:
        n = 60 + gen_pick(g, 200);      /* across blocks */
        break;
    case 2:
        n = gen_pick(g, 1000);
        break;
    default:
        n = gen_pick(g, 24);
    }

    gen_chars(g, n);
    gen_put(g, "\"", 1);
}


static void
gen_number(diff_gen_t *g)
{
    static const char  *nums[] = {
        "0", "1", "-1", "12345", "3.25", "-0.5", "1e5", "2E+10", "6.02e-23",
        "-0", "0.000001", "123456789012345678901234567890", "7", "42",
        /* wrong, rarely */
        "01", "1.", "-", "1e", ".5", "+1", "1.2.3", "0x1f", "--1"
    };

    unsigned  k;

    k = gen_pick(g, sizeof(nums) / sizeof(nums[0]));

    if (k >= 14 && gen_pick(g, 16)) {
        k = gen_pick(g, 14);
    }

    if (gen_pick(g, 40) == 0) {
        /* around the length limit */
        unsigned  n = 60 + gen_pick(g, 8);

        while (n--) {
            gen_put(g, "9", 1);
        }

        return;
    }

    gen_str(g, nums[k]);
}


static void gen_value(diff_gen_t *g, unsigned depth);


static void
gen_key(diff_gen_t *g)
{
    static const char  *keys[] = {
        "\"id\"", "\"type\"", "\"createdAt\"", "\"version\"", "\"data\"",
        "\"userId\"", "\"accountId\"", "\"name\"", "\"amount\"",
        "\"\\u0069d\"", "\"\xe5\xa7\x93\xe5\x90\x8d\"", "\"a\"", "\"\""
    };

    if (gen_pick(g, 3) == 0) {
        gen_string(g);

    } else {
        gen_str(g, keys[gen_pick(g, sizeof(keys) / sizeof(keys[0]))]);
    }
}


static void
gen_container(diff_gen_t *g, unsigned depth, int object, unsigned n)
{
    unsigned  i;

    gen_put(g, object ? "{" : "[", 1);
    gen_ws(g);

    for (i = 0; i < n && g->len < g->max; i++) {
        if (i) {
            gen_put(g, ",", 1);
            gen_ws(g);
        }

        if (object) {
            gen_key(g);
            gen_ws(g);
            gen_put(g, ":", 1);
            gen_ws(g);
        }

        gen_value(g, depth + 1);
        gen_ws(g);
    }

    gen_put(g, object ? "}" : "]", 1);
}


static void
gen_value(diff_gen_t *g, unsigned depth)
{
    unsigned  k, n;

    k = gen_pick(g, depth > 40 ? 6 : 10);

    switch (k) {
    case 0: case 1:
        gen_string(g);
        break;
    case 2: case 3:
        gen_number(g);
        break;
    case 4:
        gen_str(g, gen_pick(g, 2) ? "true" : (gen_pick(g, 2) ? "false"
                                                               : "null"));
        break;
    case 5:
        gen_str(g, gen_pick(g, 2) ? "{}" : "[]");
        break;
    default:
        n = gen_pick(g, 4) ? gen_pick(g, 6) : gen_pick(g, 60);

        if (gen_pick(g, 12) == 0) {
            /* a deep chain */
            n = 1;
            depth += gen_pick(g, 40);
        }

        gen_container(g, depth, gen_pick(g, 2), n);
    }
}


static size_t
generate(const unsigned char *in, size_t in_len, unsigned char *out,
    size_t max)
{
    unsigned    i, n;
    diff_gen_t  g;

    memset(&g, 0, sizeof(g));
    g.in = in;
    g.in_len = in_len;
    g.rng.s = fuzz_hash(in, in_len) ^ 0x5eed;
    g.out = out;
    g.max = max;
    g.style = gen_pick(&g, 3);

    gen_str(&g, "{");
    gen_ws(&g);

    /* the tracked members, in some order, some of them wrong */
    n = 3 + gen_pick(&g, 5);

    for (i = 0; i < n; i++) {
        if (i) {
            gen_put(&g, ",", 1);
            gen_ws(&g);
        }

        switch (gen_pick(&g, 8)) {
        case 0:
            gen_str(&g, "\"id\":\"et-");
            gen_chars(&g, gen_pick(&g, 4) ? 0 : 1 + gen_pick(&g, 3));
            gen_str(&g, "abc123\"");
            break;
        case 1:
            gen_str(&g, gen_pick(&g, 4) ? "\"type\":\"USER_CREATED\""
                                        : "\"type\":\"user\"");
            break;
        case 2:
            gen_str(&g, "\"createdAt\":\"2021-04-14T09:30:24Z\"");
            break;
        case 3:
            gen_str(&g, "\"version\":");
            gen_number(&g);
            break;
        case 4:
            gen_str(&g, "\"data\":{\"userId\":\"u-1\",\"accountId\":");
            gen_value(&g, 3);
            gen_str(&g, ",\"records\":");
            gen_container(&g, 2, 0, gen_pick(&g, 40));
            gen_put(&g, "}", 1);
            break;
        default:
            gen_key(&g);
            gen_put(&g, ":", 1);
            gen_ws(&g);
            gen_value(&g, 1);
        }

        gen_ws(&g);
    }

    gen_put(&g, "}", 1);

    /* a few changes */
    n = gen_pick(&g, 4);

    for (i = 0; i < n && g.len; i++) {
        size_t  at = gen_pick(&g, 65536) % g.len;

        switch (gen_pick(&g, 4)) {
        case 0:
            g.out[at] = (unsigned char) gen_pick(&g, 256);
            break;
        case 1:
            g.len = at;
            break;
        case 2:
            memmove(g.out + at, g.out + at + 1, g.len - at - 1);
            g.len--;
            break;
        default:
            if (g.len < g.max) {
                memmove(g.out + at + 1, g.out + at, g.len - at);
                g.out[at] = (unsigned char) "{}[],:\"\\ 0e-"[gen_pick(&g, 13)];
                g.len++;
            }
        }
    }

    return g.len;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                len;
    uint64_t              seed;
    static unsigned char *gen;

    seed = fuzz_hash(data, size);

    diff_check(data, size, seed);

    if (gen == NULL) {
        gen = fuzz_alloc(DIFF_GEN_MAX);
    }

    len = generate(data, size, gen, DIFF_GEN_MAX);

    /* an exact copy, so that ASan sees reads past its end */
    {
        unsigned char  *body = fuzz_dup(gen, len);

        diff_check(body, len, seed ^ 1);
        free(body);
    }

    return 0;
}
