
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * libFuzzer target: the signature header decoder and the digest compare.
 *
 * smile_sig_decode() is checked against a reference
 * decoder written here from the contract (exactly 128 hex digits, either
 * case, nothing else: no prefix, no whitespace, no NUL), on:
 *  - the input itself (any length);
 *  - its first 128 bytes, and the input repeated or cut to 128 bytes, so
 *    that most executions reach the digit checks;
 *  - for a header that decodes, its lower- and upper-case re-encodings and
 *    a copy with one digit replaced by a non-digit.
 * Every header and digest is a heap copy of its exact size.
 *
 * smile_sig_equal() is checked against memcmp() on two
 * 64-byte digests from the input, on a digest and itself, and on a digest
 * and a copy with one byte xored with an input-derived mask (equal exactly
 * when the mask is 0); it must return 0 or 1.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smile.h"
#include "fuzz_common.h"


#define FUZZ_SIG_LEN      64
#define FUZZ_SIG_HEX_LEN  128


static int
fuzz_ref_digit(unsigned char c)
{
    static const char  digits[] = "0123456789abcdef0123456789ABCDEF";
    const char        *p;

    if (c == '\0') {
        return -1;
    }

    p = strchr(digits, c);

    return p ? (int) ((p - digits) % 16) : -1;
}


/* the reference: 0 and 64 bytes, or -1 */
static int
fuzz_ref_decode(const unsigned char *hex, size_t len, unsigned char *out)
{
    int     hi, lo;
    size_t  i;

    if (len != FUZZ_SIG_HEX_LEN) {
        return -1;
    }

    for (i = 0; i < FUZZ_SIG_LEN; i++) {
        hi = fuzz_ref_digit(hex[2 * i]);
        lo = fuzz_ref_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        out[i] = (unsigned char) (hi * 16 + lo);
    }

    return 0;
}


static void
fuzz_encode(const unsigned char *in, unsigned char *out, int upper)
{
    size_t       i;
    const char  *digits;

    digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    for (i = 0; i < FUZZ_SIG_LEN; i++) {
        out[2 * i] = (unsigned char) digits[in[i] >> 4];
        out[2 * i + 1] = (unsigned char) digits[in[i] & 0x0f];
    }
}


/* decodes "hex" both ways; returns the verdict, the digest in "out" */
static int
fuzz_decode_both(const char *what, const unsigned char *hex, size_t len,
    unsigned char *out)
{
    int             rc, ref;
    unsigned char  *copy, *got;

    copy = fuzz_dup(hex, len);
    got = fuzz_alloc(FUZZ_SIG_LEN);

    rc = smile_sig_decode(copy, len, got);
    ref = fuzz_ref_decode(hex, len, out);

    if (rc != 0 && rc != -1) {
        fuzz_fail("%s: sig_decode returned %d", what, rc);
    }

    if (rc != ref) {
        fuzz_fail("%s: sig_decode says %d, the reference %d, for %zu bytes "
                  "\"%s\"", what, rc, ref, len, fuzz_show(hex, len));
    }

    if (rc == 0 && memcmp(got, out, FUZZ_SIG_LEN) != 0) {
        fuzz_fail("%s: sig_decode gives other bytes than the reference "
                  "for \"%s\"", what, fuzz_show(hex, len));
    }

    free(got);
    free(copy);

    return rc;
}


static int
fuzz_equal(const unsigned char *a, const unsigned char *b)
{
    int             rc;
    unsigned char  *ca, *cb;

    ca = fuzz_dup(a, FUZZ_SIG_LEN);
    cb = fuzz_dup(b, FUZZ_SIG_LEN);

    rc = smile_sig_equal(ca, cb);

    if (rc != 0 && rc != 1) {
        fuzz_fail("sig_equal returned %d", rc);
    }

    if (rc != (memcmp(a, b, FUZZ_SIG_LEN) == 0)) {
        fuzz_fail("sig_equal says %d for \"%s\" and \"%s\"", rc,
                  fuzz_show(a, FUZZ_SIG_LEN), fuzz_show(b, FUZZ_SIG_LEN));
    }

    free(ca);
    free(cb);

    return rc;
}


static void
fuzz_check_decoded(const unsigned char *digest, fuzz_rng_t *rng)
{
    size_t         i;
    unsigned char  hex[FUZZ_SIG_HEX_LEN], again[FUZZ_SIG_LEN];
    unsigned char  other[FUZZ_SIG_LEN];
    static const unsigned char  bad[] = " gGxX:-+\0\t\r\n=/\x80\xff";

    /* re-encoded either case: decodes to the same digest */

    fuzz_encode(digest, hex, 0);

    if (fuzz_decode_both("lower re-encoding", hex, sizeof(hex), again) != 0
        || fuzz_equal(digest, again) != 1)
    {
        fuzz_fail("a lower-case re-encoding does not decode back");
    }

    fuzz_encode(digest, hex, 1);

    if (fuzz_decode_both("upper re-encoding", hex, sizeof(hex), again) != 0
        || fuzz_equal(digest, again) != 1)
    {
        fuzz_fail("an upper-case re-encoding does not decode back");
    }

    /* one digit replaced by a non-digit: refused */

    i = fuzz_below(rng, sizeof(hex));
    hex[i] = bad[fuzz_below(rng, sizeof(bad) - 1)];

    if (fuzz_decode_both("one bad digit", hex, sizeof(hex), again) != -1) {
        fuzz_fail("a header with a non-hex byte at %zu decodes", i);
    }

    /* one bit off: not equal */

    memcpy(other, digest, FUZZ_SIG_LEN);
    i = fuzz_below(rng, FUZZ_SIG_LEN * 8);
    other[i / 8] ^= (unsigned char) (1u << (i % 8));

    if (fuzz_equal(digest, other) != 0) {
        fuzz_fail("digests one bit apart compare equal");
    }
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t         i, k;
    unsigned char  digest[FUZZ_SIG_LEN], a[FUZZ_SIG_LEN], b[FUZZ_SIG_LEN];
    unsigned char  hex[FUZZ_SIG_HEX_LEN];
    fuzz_rng_t     rng;

    rng.s = fuzz_hash(data, size);

    /* the header as sent */

    if (fuzz_decode_both("input", data, size, digest) == 0) {
        fuzz_check_decoded(digest, &rng);
    }

    /* the same bytes brought to 128 */

    if (size > FUZZ_SIG_HEX_LEN) {
        if (fuzz_decode_both("first 128", data, FUZZ_SIG_HEX_LEN, digest)
            == 0)
        {
            fuzz_check_decoded(digest, &rng);
        }
    }

    if (size > 0 && size != FUZZ_SIG_HEX_LEN) {
        for (i = 0; i < FUZZ_SIG_HEX_LEN; i++) {
            hex[i] = data[i % size];
        }

        if (fuzz_decode_both("cycled", hex, sizeof(hex), digest) == 0) {
            fuzz_check_decoded(digest, &rng);
        }
    }

    /* two digests from the input */

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));

    memcpy(a, data, size < FUZZ_SIG_LEN ? size : FUZZ_SIG_LEN);

    if (size > FUZZ_SIG_LEN) {
        k = size - FUZZ_SIG_LEN;
        memcpy(b, data + FUZZ_SIG_LEN, k < FUZZ_SIG_LEN ? k : FUZZ_SIG_LEN);
    }

    (void) fuzz_equal(a, b);

    if (fuzz_equal(a, a) != 1) {
        fuzz_fail("a digest differs from itself");
    }

    /* a digest and a copy with one byte xored by a mask from the input */

    memcpy(b, a, sizeof(a));
    k = size ? data[size - 1] : 0;
    i = fuzz_below(&rng, FUZZ_SIG_LEN);
    b[i] ^= (unsigned char) k;

    if (fuzz_equal(a, b) != (k == 0)) {
        fuzz_fail("byte %zu xored with 0x%02zx: wrong answer", i, k);
    }

    return 0;
}
