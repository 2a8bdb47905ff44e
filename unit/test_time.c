
/*
 * Unit tests for smile_parse_time(): RFC 3339 date-times
 * (the signed "createdAt" that smile_webhook_max_age checks).  glibc's
 * timegm() is the oracle for a few hundred thousand random valid times;
 * the malformed inputs are written out or made by breaking valid ones.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smile.h"


static unsigned long  passed, failed;


#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            passed++;                                                        \
        } else {                                                             \
            failed++;                                                        \
            if (failed <= 20) {                                              \
                printf("FAIL line %d: ", __LINE__);                          \
                printf(__VA_ARGS__);                                         \
                printf("\n");                                                \
            }                                                                \
        }                                                                    \
    } while (0)


static int
parse(const char *s, long long *t)
{
    return smile_parse_time((const unsigned char *) s,
                                             strlen(s), t);
}


static void
test_known(void)
{
    long long  t;

    CHECK(parse("2021-04-14T09:30:24Z", &t) == 0 && t == 1618392624LL,
          "the seed document's createdAt");
    CHECK(parse("1970-01-01T00:00:00Z", &t) == 0 && t == 0, "the epoch");
    CHECK(parse("1969-12-31T23:59:59Z", &t) == 0 && t == -1,
          "a second before the epoch");
    CHECK(parse("2021-04-14t09:30:24z", &t) == 0 && t == 1618392624LL,
          "lowercase t and z");
    CHECK(parse("2021-04-14T17:30:24+08:00", &t) == 0 && t == 1618392624LL,
          "+08:00 is eight hours ahead of UTC");
    CHECK(parse("2021-04-14T04:00:24-05:30", &t) == 0 && t == 1618392624LL,
          "-05:30");
    CHECK(parse("2021-04-14T09:30:24.123456789Z", &t) == 0
          && t == 1618392624LL, "a fraction is ignored");
    CHECK(parse("2021-04-14T09:30:24.5+00:00", &t) == 0 && t == 1618392624LL,
          "a fraction before an offset");
    CHECK(parse("2016-12-31T23:59:60Z", &t) == 0 && t == 1483228800LL,
          "a leap second counts as the next second");
    CHECK(parse("2024-02-29T00:00:00Z", &t) == 0 && t == 1709164800LL,
          "29 February of a leap year");
    CHECK(parse("2000-02-29T00:00:00Z", &t) == 0 && t == 951782400LL,
          "29 February 2000 (divisible by 400)");
    CHECK(parse("0000-01-01T00:00:00Z", &t) == 0 && t == -62167219200LL,
          "year 0000");
    CHECK(parse("9999-12-31T23:59:59Z", &t) == 0 && t == 253402300799LL,
          "year 9999");
}


static void
test_malformed(void)
{
    size_t       i;
    long long    t;
    const char  *bad[] = {
        "", "2021", "2021-04-14", "2021-04-14T09:30:24",
        "2021-04-14T09:30Z", "2021-04-14 09:30:24Z", "2021-04-14T09:30:24",
        "2021-04-14T09:30:24ZZ", "2021-04-14T09:30:24Z ",
        " 2021-04-14T09:30:24Z", "2021-4-14T09:30:24Z",
        "21-04-14T09:30:24Z", "+2021-04-14T09:30:24Z",
        "2021-04-14T09:30:24.Z", "2021-04-14T09:30:24.", "2021-04-14T9:30:24Z",
        "2021-00-14T09:30:24Z", "2021-13-14T09:30:24Z", "2021-04-00T09:30:24Z",
        "2021-04-31T09:30:24Z", "2021-02-29T09:30:24Z", "1900-02-29T00:00:00Z",
        "2021-04-14T24:00:00Z", "2021-04-14T09:60:24Z", "2021-04-14T09:30:61Z",
        "2021-04-14T09:30:24+0800", "2021-04-14T09:30:24+08",
        "2021-04-14T09:30:24+24:00", "2021-04-14T09:30:24+08:60",
        "2021-04-14T09:30:24+08:00Z", "2021-04-14T09:30:24 +08:00",
        "2021-04-14T09:30:24UTC", "2021-04-14T09:30:24-",
        "2021/04/14T09:30:24Z", "2021-04-14T09-30-24Z", "2021-04-14X09:30:24Z",
        "\xef\xbc\x92" "021-04-14T09:30:24Z",
        "1618392624", "2021-04-14T09:30:24.1e3Z", "2021-04-14T09:30:24,5Z"
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 42;
        CHECK(parse(bad[i], &t) == -1 && t == 42, "\"%s\" must be rejected",
              bad[i]);
    }

    /* a NUL inside the given length is not the end of the string */

    CHECK(smile_parse_time(
              (const unsigned char *) "2021-04-14T09:30:24Z\0", 21, &t) == -1,
          "a trailing NUL byte must be rejected");
}


/* random valid times against timegm(), and each with one byte broken */

static void
test_oracle(void)
{
    int          i, k, year, month, day, hour, min, sec, oh, om, sign;
    char         buf[64], frac[16];
    time_t       expect;
    struct tm    tm;
    long long    t;
    unsigned     seed;
    static const int  mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                    30, 31 };

    seed = 12345;

    for (i = 0; i < 200000; i++) {
        year = 1 + rand_r(&seed) % 9998;
        month = 1 + rand_r(&seed) % 12;
        day = 1 + rand_r(&seed) % (mdays[month - 1]
                 + (month == 2 && year % 4 == 0
                    && (year % 100 != 0 || year % 400 == 0)));
        hour = rand_r(&seed) % 24;
        min = rand_r(&seed) % 60;
        sec = rand_r(&seed) % 60;
        oh = rand_r(&seed) % 24;
        om = rand_r(&seed) % 60;
        sign = (rand_r(&seed) % 3) - 1;     /* -1, 0: Z, 1 */

        frac[0] = '\0';

        if (rand_r(&seed) % 2) {
            snprintf(frac, sizeof(frac), ".%0*d", 1 + rand_r(&seed) % 9,
                     rand_r(&seed) % 10);
        }

        if (sign == 0) {
            snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
                     year, month, day, hour, min, sec, frac);
        } else {
            snprintf(buf, sizeof(buf),
                     "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02d:%02d",
                     year, month, day, hour, min, sec, frac,
                     sign < 0 ? '-' : '+', oh, om);
        }

        memset(&tm, 0, sizeof(tm));
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;

        expect = timegm(&tm);

        if (sign != 0) {
            expect -= sign * (oh * 3600 + om * 60);
        }

        CHECK(parse(buf, &t) == 0 && t == (long long) expect,
              "\"%s\": %lld, timegm says %lld", buf, t, (long long) expect);

        /* a letter in place of any digit makes it invalid */

        k = rand_r(&seed) % (int) strlen(buf);

        if (buf[k] >= '0' && buf[k] <= '9') {
            buf[k] = 'x';
            CHECK(parse(buf, &t) == -1, "\"%s\" must be rejected", buf);
        }
    }
}


int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    test_known();
    test_malformed();
    test_oracle();

    printf("time: %lu passed, %lu failed\n", passed, failed);

    return failed ? 1 : 0;
}
