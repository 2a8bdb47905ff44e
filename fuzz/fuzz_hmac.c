
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * libFuzzer target: the pre-keyed streaming HMAC-SHA512, against
 * OpenSSL's one-shot HMAC(EVP_sha512(), ...).
 *
 * Input layout: two bytes give the key length (little endian, 9 bits:
 * 0..511, so empty, short, exactly one block and hashed keys all occur),
 * one byte where the rest is cut into two messages, then the key, then
 * the messages.  Shorter inputs use what is there.
 *
 * Checked, with update() cuts (empty ones included) from a PRNG seeded by
 * a hash of the input:
 *  - key A, one context: message 1 then, reusing the context after
 *    final(), message 2; each equals the one-shot HMAC;
 *  - key A and key B (message 2 used as a key, often longer than a block)
 *    with their updates interleaved on two contexts: each equals the
 *    one-shot HMAC with its key;
 *  - the empty message and message 1 in one update() with key A, after
 *    all of the above: the key's state is left as it was;
 *  - every buffer is a heap copy of its exact size, freed (after being
 *    scribbled over) right after the call; hmac_free() and
 *    hmac_key_free() twice are harmless; no leaks.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "smile.h"
#include "fuzz_common.h"


#define FUZZ_MAC_LEN  64


static void
fuzz_oneshot(const unsigned char *key, size_t klen, const unsigned char *msg,
    size_t mlen, unsigned char *out)
{
    unsigned int         n;
    static const char    empty[1] = "";

    n = 0;

    if (HMAC(EVP_sha512(), key ? (const void *) key : empty, (int) klen,
             msg ? msg : (const unsigned char *) empty, mlen, out, &n)
        == NULL || n != FUZZ_MAC_LEN)
    {
        fuzz_fail("OpenSSL's one-shot HMAC failed");
    }
}


static void
fuzz_key(smile_hmac_key_t *key, const unsigned char *p,
    size_t len)
{
    unsigned char  *copy;

    copy = fuzz_dup(p, len);

    if (smile_hmac_key_init(key, copy, len) != 0) {
        fuzz_fail("hmac_key_init failed for a %zu-byte key", len);
    }

    memset(copy, 0xa5, len);
    free(copy);
}


static void
fuzz_start(smile_hmac_t *h,
    const smile_hmac_key_t *key)
{
    if (smile_hmac_start(h, key) != 0) {
        fuzz_fail("hmac_start failed");
    }
}


static void
fuzz_update(smile_hmac_t *h, const unsigned char *p,
    size_t len)
{
    unsigned char  *copy;

    copy = fuzz_dup(p, len);

    if (smile_hmac_update(h, copy, len) != 0) {
        fuzz_fail("hmac_update failed (%zu bytes)", len);
    }

    memset(copy, 0xa5, len);
    free(copy);
}


static void
fuzz_final(const char *what, smile_hmac_t *h,
    const smile_hmac_key_t *key, const unsigned char *want,
    const fuzz_plan_t *pl, size_t klen, size_t mlen)
{
    unsigned char  *got;

    got = fuzz_alloc(FUZZ_MAC_LEN);

    if (smile_hmac_final(h, key, got) != 0) {
        fuzz_fail("%s: hmac_final failed", what);
    }

    if (memcmp(got, want, FUZZ_MAC_LEN) != 0) {
        fuzz_fail("%s: streaming HMAC differs from the one-shot HMAC "
                  "(key %zu bytes, message %zu bytes, updates %s)", what,
                  klen, mlen, pl ? fuzz_plan_show(pl) : "-");
    }

    if (smile_sig_equal(got, want) != 1) {
        fuzz_fail("%s: sig_equal does not match equal digests", what);
    }

    free(got);
}


static void
fuzz_feed(smile_hmac_t *h, const unsigned char *p,
    const fuzz_plan_t *pl)
{
    size_t  i, off;

    for (i = 0, off = 0; i < pl->n; off += pl->len[i++]) {
        fuzz_update(h, p + off, pl->len[i]);
    }
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                              klen, mlen, m1len, m2len;
    size_t                              i, j, oi, oj;
    fuzz_rng_t                          rng;
    fuzz_plan_t                         pa, pb;
    unsigned char                       want1[FUZZ_MAC_LEN];
    unsigned char                       want2[FUZZ_MAC_LEN];
    unsigned char                       want2b[FUZZ_MAC_LEN];
    unsigned char                       want0[FUZZ_MAC_LEN];
    const unsigned char                *p, *key, *m1, *m2;
    smile_hmac_t       h1, h2;
    smile_hmac_key_t   ka, kb;

    rng.s = fuzz_hash(data, size);
    memset(&pa, 0, sizeof(pa));
    memset(&pb, 0, sizeof(pb));

    klen = 0;
    m1len = 0;
    p = data;

    if (size >= 3) {
        klen = (size_t) (data[0] | (data[1] & 1) << 8);
        m1len = data[2];
        p = data + 3;
        size -= 3;

    } else {
        size = 0;
    }

    if (klen > size) {
        klen = size;
    }

    key = p;
    m1 = p + klen;
    mlen = size - klen;
    m1len = mlen * m1len / 255;
    m2 = m1 + m1len;
    m2len = mlen - m1len;

    fuzz_oneshot(key, klen, m1, m1len, want1);
    fuzz_oneshot(key, klen, m2, m2len, want2);
    fuzz_oneshot(m2, m2len, m1, m1len, want2b);
    fuzz_oneshot(key, klen, NULL, 0, want0);

    fuzz_key(&ka, key, klen);
    fuzz_key(&kb, m2, m2len);

    /* key A: message 1, then message 2 on the same context */

    h1.md = NULL;
    h2.md = NULL;

    fuzz_start(&h1, &ka);
    fuzz_plan_random(&pa, &rng, m1len, 1 + fuzz_below(&rng, 200), 1);
    fuzz_feed(&h1, m1, &pa);
    fuzz_final("message 1", &h1, &ka, want1, &pa, klen, m1len);

    fuzz_start(&h1, &ka);
    fuzz_plan_random(&pb, &rng, m2len, 1 + fuzz_below(&rng, 200), 1);
    fuzz_feed(&h1, m2, &pb);
    fuzz_final("message 2, reused context", &h1, &ka, want2, &pb, klen,
               m2len);

    /*
     * interleaved: key A over message 2 on h1 and key B over message 1 on
     * h2, in turns
     */

    fuzz_start(&h1, &ka);
    fuzz_start(&h2, &kb);

    fuzz_plan_random(&pa, &rng, m2len, 1 + fuzz_below(&rng, 64), 1);
    fuzz_plan_random(&pb, &rng, m1len, 1 + fuzz_below(&rng, 64), 1);

    for (i = 0, j = 0, oi = 0, oj = 0; i < pa.n || j < pb.n; /* void */) {
        if (i < pa.n && (j == pb.n || fuzz_below(&rng, 2))) {
            fuzz_update(&h1, m2 + oi, pa.len[i]);
            oi += pa.len[i++];

        } else {
            fuzz_update(&h2, m1 + oj, pb.len[j]);
            oj += pb.len[j++];
        }
    }

    fuzz_final("interleaved, key A", &h1, &ka, want2, &pa, klen, m2len);
    fuzz_final("interleaved, key B", &h2, &kb, want2b, &pb, m2len, m1len);

    /* the keys are unchanged: the empty message, then one update */

    fuzz_start(&h2, &ka);
    fuzz_final("empty message", &h2, &ka, want0, NULL, klen, 0);

    fuzz_start(&h2, &ka);
    fuzz_update(&h2, m1, m1len);
    fuzz_final("message 1 again, one update", &h2, &ka, want1, NULL, klen,
               m1len);

    smile_hmac_free(&h1);
    smile_hmac_free(&h1);
    smile_hmac_free(&h2);

    if (h1.md != NULL || h2.md != NULL) {
        fuzz_fail("hmac_free left the context set");
    }

    smile_hmac_key_free(&ka);
    smile_hmac_key_free(&ka);
    smile_hmac_key_free(&kb);

    if (ka.inner != NULL || ka.outer != NULL) {
        fuzz_fail("hmac_key_free left the key set");
    }

    fuzz_plan_free(&pa);
    fuzz_plan_free(&pb);

    return 0;
}
