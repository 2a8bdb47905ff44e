
/*
 * bench/micro/parse_bench.c - the module's pure parts timed outside nginx.
 *
 *   parse_bench [-r REPEATS] [-b BATCH_MS] [-o OP] [-s LEVEL] SECRET FILE...
 *
 * Linked with ngx_http_smile_webhook_sig.c and _event.c through
 * parse_ops.c (and, built by "bench/micro/run BASE", with a base commit's
 * copies under renamed symbols), it prints, for each FILE and each way of
 * splitting it into buffers (the whole body in one buffer, 16 KB and 8 KB
 * pieces), the nanoseconds per request of
 *
 *   floor   a pre-keyed EVP_MAC HMAC-SHA512 context reset per message
 *           (the floor bench/run divides by)
 *   hmac    the module's HMAC: hmac_start, hmac_update per buffer,
 *           hmac_final, hmac_free (one secret)
 *   parse   the event parser: event_init, event_feed per buffer,
 *           event_finish, event_free
 *   both    the two together, per buffer as the module's body filter does
 *
 * for each build linked in.  -o OP times only that op and the floor (for
 * perf record).  -s LEVEL caps the event parser's block scanner (0 none,
 * 1 SSE2, 2 AVX2, 3 AVX-512) in the builds that have one.
 *
 * Each figure is the median of REPEATS batches of about BATCH_MS
 * milliseconds; the batches of all figures (and builds) are interleaved
 * round by round, so that a noisy neighbour hits every figure alike.
 * Ratios to the floor are of figures from the same process.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "parse_bench.h"


#define MAX_FILES    16
#define MAX_REPEATS  64
#define MAX_BUILDS   2


typedef struct {
    const char          *build;
    const char          *what;
    bench_op_pt          op;
    const bench_body_t  *body;
    size_t               piece;      /* 0: the whole body in one buffer */
    unsigned long        iters;      /* per batch */
    double               ns[MAX_REPEATS];
} case_t;


extern const bench_ops_t  cur_ops;
#ifdef WITH_BASE
extern const bench_ops_t  base_ops;
#endif


static EVP_MAC_CTX   *mac_ctx;
static unsigned       sink;
static case_t         cases[MAX_FILES * 3 * (1 + 3 * MAX_BUILDS)];


static double
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}


static void
die(const char *what)
{
    fprintf(stderr, "parse_bench: %s failed\n", what);
    exit(1);
}


static int
op_floor(const bench_body_t *b, size_t piece, unsigned *out_sink)
{
    size_t         n, off;
    unsigned char  out[EVP_MAX_MD_SIZE];

    if (EVP_MAC_init(mac_ctx, NULL, 0, NULL) != 1) {
        return -1;
    }

    for (off = 0; off < b->len; off += n) {
        n = (piece && b->len - off > piece) ? piece : b->len - off;

        if (EVP_MAC_update(mac_ctx, b->data + off, n) != 1) {
            return -1;
        }
    }

    if (EVP_MAC_final(mac_ctx, out, &n, sizeof(out)) != 1) {
        return -1;
    }

    *out_sink += out[0];

    return 0;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
median(const double *v, int n)
{
    double  s[MAX_REPEATS];

    memcpy(s, v, n * sizeof(double));
    qsort(s, n, sizeof(double), cmp_double);

    return (n & 1) ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}


static double
batch(case_t *c)
{
    double         t0;
    unsigned long  i;

    t0 = now_ns();

    for (i = 0; i < c->iters; i++) {
        if (c->op(c->body, c->piece, &sink) != 0) {
            fprintf(stderr, "parse_bench: %s %s on %s failed\n", c->build,
                    c->what, c->body->name);
            exit(1);
        }
    }

    return (now_ns() - t0) / c->iters;
}


static void
load(bench_body_t *b, const char *path)
{
    long   n;
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0) {
        die(path);
    }

    rewind(f);

    b->len = n;
    b->data = malloc(n);
    if (b->data == NULL || fread(b->data, 1, n, f) != (size_t) n) {
        die(path);
    }

    fclose(f);

    b->name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
}


static void
add(int *n, const char *build, const char *what, bench_op_pt op,
    const bench_body_t *body, size_t piece, const char *only)
{
    case_t  *c;

    if (op != op_floor && only && strcmp(only, what) != 0) {
        return;
    }

    c = &cases[(*n)++];
    c->build = build;
    c->what = what;
    c->op = op;
    c->body = body;
    c->piece = piece;
}


int
main(int argc, char **argv)
{
    int                 i, j, k, r, opt, ncases, nbuilds, repeats, batch_ms,
                        simd;
    double              ns, fl;
    size_t              slen;
    EVP_MAC            *mac;
    case_t             *c;
    OSSL_PARAM          params[2];
    const char         *secret, *only;
    bench_body_t        bodies[MAX_FILES];
    unsigned long       it;
    const bench_ops_t  *builds[MAX_BUILDS];

    static const size_t  pieces[] = { 0, 16384, 8192 };

    repeats = 9;
    batch_ms = 20;
    only = NULL;
    simd = -1;

    while ((opt = getopt(argc, argv, "r:b:o:s:")) != -1) {
        switch (opt) {
        case 'r':
            repeats = atoi(optarg);
            break;
        case 'b':
            batch_ms = atoi(optarg);
            break;
        case 'o':
            only = optarg;
            break;
        case 's':
            simd = atoi(optarg);
            break;
        default:
            goto usage;
        }
    }

    if (argc - optind < 2 || argc - optind - 1 > MAX_FILES
        || repeats < 1 || repeats > MAX_REPEATS || batch_ms < 1)
    {
    usage:
        fprintf(stderr, "usage: parse_bench [-r REPEATS] [-b BATCH_MS] "
                        "[-o OP] [-s LEVEL] SECRET FILE...\n");
        return 2;
    }

    secret = argv[optind];
    slen = strlen(secret);

    nbuilds = 0;
#ifdef WITH_BASE
    builds[nbuilds++] = &base_ops;
#endif
    builds[nbuilds++] = &cur_ops;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    mac_ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (mac_ctx == NULL) {
        die("EVP_MAC_CTX_new");
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA512", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(mac_ctx, (const unsigned char *) secret, slen, params)
        != 1)
    {
        die("EVP_MAC_init");
    }

    for (i = 0; i < nbuilds; i++) {
        if (builds[i]->init(secret, slen) != 0) {
            die("hmac_key_init");
        }

        if (builds[i]->simd && simd >= 0) {
            (void) builds[i]->simd(simd);
        }
    }

    k = argc - optind - 1;

    for (i = 0; i < k; i++) {
        load(&bodies[i], argv[optind + 1 + i]);
    }

    ncases = 0;

    for (i = 0; i < k; i++) {
        for (j = 0; j < 3; j++) {
            if (pieces[j] && pieces[j] >= bodies[i].len) {
                continue;
            }

            if (j == 0) {
                add(&ncases, "-", "floor", op_floor, &bodies[i], 0, only);
            }

            for (r = 0; r < nbuilds; r++) {
                add(&ncases, builds[r]->name, "hmac", builds[r]->hmac,
                    &bodies[i], pieces[j], only);
                add(&ncases, builds[r]->name, "parse", builds[r]->parse,
                    &bodies[i], pieces[j], only);
                add(&ncases, builds[r]->name, "both", builds[r]->both,
                    &bodies[i], pieces[j], only);
            }
        }
    }

    /* calibrate: enough iterations for a batch of about batch_ms */

    for (i = 0; i < ncases; i++) {
        c = &cases[i];
        c->iters = 1;

        for ( ;; ) {
            ns = batch(c) * c->iters;

            if (ns > batch_ms * 1e6 / 4 || c->iters > (1ul << 30)) {
                it = (unsigned long) (c->iters * (batch_ms * 1e6 / ns));
                c->iters = it ? it : 1;
                break;
            }

            c->iters *= 4;
        }
    }

    for (r = 0; r < repeats; r++) {
        for (i = 0; i < ncases; i++) {
            cases[i].ns[r] = batch(&cases[i]);
        }
    }

    printf("%-16s %8s %6s %6s %5s %12s %8s\n", "body", "bytes", "buffer",
           "op", "build", "ns/req", "x floor");

    fl = 0;

    for (i = 0; i < ncases; i++) {
        c = &cases[i];
        ns = median(c->ns, repeats);

        if (c->op == op_floor) {
            fl = ns;
        }

        printf("%-16s %8zu %6s %6s %5s %12.0f %8.3f\n", c->body->name,
               c->body->len,
               c->piece == 0 ? "whole" : c->piece == 16384 ? "16k" : "8k",
               c->what, c->build, ns, ns / fl);
    }

    for (i = 0; i < nbuilds; i++) {
        builds[i]->done();
    }

    EVP_MAC_CTX_free(mac_ctx);
    EVP_MAC_free(mac);

    for (i = 0; i < k; i++) {
        free(bodies[i].data);
    }

    return sink == 0xdeadbeef;
}
