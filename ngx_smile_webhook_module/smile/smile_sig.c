
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * Signature header decoding, constant-time comparison and a pre-keyed,
 * streaming HMAC-SHA512 (RFC 2104) on OpenSSL 3 EVP digests.  No nginx
 * dependency.
 */


#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "smile.h"


#define SMILE_SHA512_BLOCK  128

/*
 * Digest contexts of finished requests, emptied, for the next ones: this
 * spares an EVP_MD_CTX_new() and EVP_MD_CTX_free() per request and secret.
 * Per process (an nginx worker is one thread; so are the unit tests and
 * the fuzzers); the few kept are still reachable at exit.
 */
#define SMILE_MD_KEEP       16


static EVP_MD_CTX  *smile_mds[SMILE_MD_KEEP];
static unsigned     smile_nmds;


/* a hex digit's value, 16 for any other byte */

static const unsigned char  smile_hex[256] = {
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 00 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 10 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 20 */
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 16, 16, 16, 16, 16, 16,   /* 30 */
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 40 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 50 */
    16, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 60 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 70 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 80 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* 90 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* a0 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* b0 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* c0 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* d0 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,   /* e0 */
    16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16    /* f0 */
};


int
smile_sig_decode(const unsigned char *hex, size_t len,
    unsigned char *out)
{
    size_t         i;
    unsigned char  hi, lo;

    if (len != SMILE_SIG_HEX_LEN) {
        return -1;
    }

    for (i = 0; i < SMILE_SIG_LEN; i++) {
        hi = smile_hex[hex[2 * i]];
        lo = smile_hex[hex[2 * i + 1]];

        if ((hi | lo) & 0x10) {
            return -1;
        }

        out[i] = (unsigned char) (hi << 4 | lo);
    }

    return 0;
}


int
smile_sig_equal(const unsigned char *a,
    const unsigned char *b)
{
    return CRYPTO_memcmp(a, b, SMILE_SIG_LEN) == 0;
}


int
smile_hmac_key_init(smile_hmac_key_t *key,
    const unsigned char *secret, size_t len)
{
    int            rc;
    size_t         i;
    unsigned int   n;
    unsigned char  block[SMILE_SHA512_BLOCK], pad[SMILE_SHA512_BLOCK];

    key->inner = NULL;
    key->outer = NULL;

    memset(block, 0, sizeof(block));

    if (len > SMILE_SHA512_BLOCK) {
        if (EVP_Digest(secret, len, block, &n, EVP_sha512(), NULL) != 1) {
            return -1;
        }

    } else {
        memcpy(block, secret, len);
    }

    key->inner = EVP_MD_CTX_new();
    key->outer = EVP_MD_CTX_new();

    if (key->inner == NULL || key->outer == NULL) {
        goto failed;
    }

    for (i = 0; i < SMILE_SHA512_BLOCK; i++) {
        pad[i] = block[i] ^ 0x36;
    }

    rc = EVP_DigestInit_ex(key->inner, EVP_sha512(), NULL)
         && EVP_DigestUpdate(key->inner, pad, sizeof(pad));

    for (i = 0; i < SMILE_SHA512_BLOCK; i++) {
        pad[i] = block[i] ^ 0x5c;
    }

    rc = rc
         && EVP_DigestInit_ex(key->outer, EVP_sha512(), NULL)
         && EVP_DigestUpdate(key->outer, pad, sizeof(pad));

    if (rc) {
        OPENSSL_cleanse(block, sizeof(block));
        OPENSSL_cleanse(pad, sizeof(pad));
        return 0;
    }

failed:

    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));

    smile_hmac_key_free(key);

    return -1;
}


void
smile_hmac_key_free(smile_hmac_key_t *key)
{
    EVP_MD_CTX_free(key->inner);
    EVP_MD_CTX_free(key->outer);

    key->inner = NULL;
    key->outer = NULL;
}


int
smile_hmac_start(smile_hmac_t *h,
    const smile_hmac_key_t *key)
{
    if (h->md == NULL) {
        if (smile_nmds) {
            h->md = smile_mds[--smile_nmds];

        } else {
            h->md = EVP_MD_CTX_new();
            if (h->md == NULL) {
                return -1;
            }
        }
    }

    /* the copy frees the state it replaces and duplicates the keyed one */

    return EVP_MD_CTX_copy_ex(h->md, key->inner) == 1 ? 0 : -1;
}


int
smile_hmac_update(smile_hmac_t *h,
    const void *data, size_t len)
{
    if (len == 0) {
        return 0;
    }

    return EVP_DigestUpdate(h->md, data, len) == 1 ? 0 : -1;
}


int
smile_hmac_final(smile_hmac_t *h,
    const smile_hmac_key_t *key, unsigned char *out)
{
    unsigned int   n;
    unsigned char  inner[EVP_MAX_MD_SIZE];

    if (EVP_DigestFinal_ex(h->md, inner, &n) != 1
        || EVP_MD_CTX_copy_ex(h->md, key->outer) != 1
        || EVP_DigestUpdate(h->md, inner, n) != 1
        || EVP_DigestFinal_ex(h->md, out, &n) != 1
        || n != SMILE_SIG_LEN)
    {
        return -1;
    }

    return 0;
}


void
smile_hmac_free(smile_hmac_t *h)
{
    if (h->md == NULL) {
        return;
    }

    /* nothing of the key or the message stays in a kept context */

    if (smile_nmds < SMILE_MD_KEEP
        && EVP_MD_CTX_reset(h->md) == 1)
    {
        smile_mds[smile_nmds++] = h->md;

    } else {
        EVP_MD_CTX_free(h->md);
    }

    h->md = NULL;
}


void
smile_hmac_exit(void)
{
    while (smile_nmds) {
        EVP_MD_CTX_free(
            smile_mds[--smile_nmds]);
    }
}


void
smile_exit(void)
{
    smile_hmac_exit();
    smile_event_exit();
}
