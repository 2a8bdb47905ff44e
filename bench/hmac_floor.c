/*
 * bench/hmac_floor.c - the floor for bench/run: raw HMAC-SHA512 time per
 * body with OpenSSL 3, on the CPU it is pinned to (bench/run pins it to the
 * front nginx's core).
 *
 *   hmac_floor SECRET FILE...
 *
 * For each FILE it prints one line
 *
 *   <bytes> <one-shot us> <pre-keyed us> <ipad/opad copy us> <FILE>
 *
 *   one-shot     HMAC(EVP_sha512(), key, ...): what a caller without any
 *                state does (OpenSSL 3 fetches the digest and keys a new
 *                context every call)
 *   pre-keyed    an EVP_MAC HMAC context keyed once; per message
 *                EVP_MAC_init(ctx, NULL, 0, NULL) (resets to the keyed
 *                state), EVP_MAC_update, EVP_MAC_final -- the floor
 *   ipad/opad    two EVP_MD_CTX holding SHA-512 after the ipad/opad block,
 *                copied per message (the technique the module uses)
 *
 * Each figure is the median of REPEATS batches; a batch runs the
 * operation enough times to last about BATCH_MS milliseconds.  Build:
 * cc -O2 -o hmac_floor hmac_floor.c -lcrypto
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>


#define REPEATS   9
#define BATCH_MS  60


typedef int (*op_pt)(const unsigned char *data, size_t len,
    unsigned char *out);


static const char     *secret;
static size_t          secret_len;
static EVP_MAC_CTX    *mac_ctx;
static EVP_MD_CTX     *ipad_ctx, *opad_ctx, *work_ctx;
static volatile unsigned char  sink;


static void
die(const char *what)
{
    fprintf(stderr, "hmac_floor: %s failed\n", what);
    exit(1);
}


static double
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}


static int
op_oneshot(const unsigned char *data, size_t len, unsigned char *out)
{
    unsigned int  n;

    return HMAC(EVP_sha512(), secret, (int) secret_len, data, len, out, &n)
           != NULL;
}


static int
op_prekeyed(const unsigned char *data, size_t len, unsigned char *out)
{
    size_t  n;

    return EVP_MAC_init(mac_ctx, NULL, 0, NULL) == 1
           && EVP_MAC_update(mac_ctx, data, len) == 1
           && EVP_MAC_final(mac_ctx, out, &n, 64) == 1;
}


static int
op_padcopy(const unsigned char *data, size_t len, unsigned char *out)
{
    unsigned int   n;
    unsigned char  inner[64];

    return EVP_MD_CTX_copy_ex(work_ctx, ipad_ctx) == 1
           && EVP_DigestUpdate(work_ctx, data, len) == 1
           && EVP_DigestFinal_ex(work_ctx, inner, &n) == 1
           && EVP_MD_CTX_copy_ex(work_ctx, opad_ctx) == 1
           && EVP_DigestUpdate(work_ctx, inner, n) == 1
           && EVP_DigestFinal_ex(work_ctx, out, &n) == 1;
}


static void
setup(void)
{
    size_t          i;
    OSSL_PARAM      params[2];
    EVP_MAC        *mac;
    unsigned char   block[128], pad[128];

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        die("EVP_MAC_fetch");
    }

    mac_ctx = EVP_MAC_CTX_new(mac);
    if (mac_ctx == NULL) {
        die("EVP_MAC_CTX_new");
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 "SHA512", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(mac_ctx, (const unsigned char *) secret, secret_len,
                     params) != 1)
    {
        die("EVP_MAC_init");
    }

    /* the ipad/opad states, as RFC 2104 defines them (key <= 128 bytes) */

    if (secret_len > sizeof(block)) {
        die("a secret longer than 128 bytes");
    }

    memset(block, 0, sizeof(block));
    memcpy(block, secret, secret_len);

    ipad_ctx = EVP_MD_CTX_new();
    opad_ctx = EVP_MD_CTX_new();
    work_ctx = EVP_MD_CTX_new();

    if (ipad_ctx == NULL || opad_ctx == NULL || work_ctx == NULL) {
        die("EVP_MD_CTX_new");
    }

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] = block[i] ^ 0x36;
    }

    if (EVP_DigestInit_ex(ipad_ctx, EVP_sha512(), NULL) != 1
        || EVP_DigestUpdate(ipad_ctx, pad, sizeof(pad)) != 1)
    {
        die("ipad digest");
    }

    for (i = 0; i < sizeof(pad); i++) {
        pad[i] = block[i] ^ 0x5c;
    }

    if (EVP_DigestInit_ex(opad_ctx, EVP_sha512(), NULL) != 1
        || EVP_DigestUpdate(opad_ctx, pad, sizeof(pad)) != 1)
    {
        die("opad digest");
    }
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* median time of one operation, in microseconds */

static double
measure(op_pt op, const unsigned char *data, size_t len)
{
    int            r;
    long           i, n;
    double         t0, t, per[REPEATS];
    unsigned char  out[64];

    /* warm up, and find how many operations last about BATCH_MS */

    n = 1;

    for ( ;; ) {
        t0 = now_ns();

        for (i = 0; i < n; i++) {
            if (!op(data, len, out)) {
                die("HMAC-SHA512");
            }
        }

        t = now_ns() - t0;

        if (t >= BATCH_MS * 1e6 / 4) {
            n = (long) (n * (BATCH_MS * 1e6 / t)) + 1;
            break;
        }

        n *= 2;
    }

    for (r = 0; r < REPEATS; r++) {
        t0 = now_ns();

        for (i = 0; i < n; i++) {
            if (!op(data, len, out)) {
                die("HMAC-SHA512");
            }
        }

        per[r] = (now_ns() - t0) / n / 1000.0;
        sink ^= out[0];
    }

    qsort(per, REPEATS, sizeof(double), cmp_double);

    return per[REPEATS / 2];
}


static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE           *f;
    long            size;
    unsigned char  *p;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "hmac_floor: %s: %s\n", path, strerror(errno));
        exit(1);
    }

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "hmac_floor: %s: cannot size\n", path);
        exit(1);
    }

    p = malloc(size ? (size_t) size : 1);
    if (p == NULL || fread(p, 1, (size_t) size, f) != (size_t) size) {
        fprintf(stderr, "hmac_floor: %s: cannot read\n", path);
        exit(1);
    }

    fclose(f);
    *len = (size_t) size;

    return p;
}


int
main(int argc, char **argv)
{
    int             i;
    size_t          len;
    unsigned char  *data, a[64], b[64], c[64];
    unsigned int    an;

    if (argc < 3) {
        fprintf(stderr, "usage: hmac_floor SECRET FILE...\n");
        return 2;
    }

    secret = argv[1];
    secret_len = strlen(secret);

    setup();

    for (i = 2; i < argc; i++) {
        data = slurp(argv[i], &len);

        /* the three ways must agree, or the figures mean nothing */

        if (HMAC(EVP_sha512(), secret, (int) secret_len, data, len, a, &an)
            == NULL
            || !op_prekeyed(data, len, b) || !op_padcopy(data, len, c)
            || memcmp(a, b, 64) != 0 || memcmp(a, c, 64) != 0)
        {
            die("cross-check of the three HMAC-SHA512 ways");
        }

        printf("%zu %.3f %.3f %.3f %s\n", len,
               measure(op_oneshot, data, len),
               measure(op_prekeyed, data, len),
               measure(op_padcopy, data, len), argv[i]);
        fflush(stdout);

        free(data);
    }

    return 0;
}
