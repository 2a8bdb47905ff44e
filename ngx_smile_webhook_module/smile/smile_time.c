
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * RFC 3339 timestamps ("createdAt") to seconds since the epoch.
 */


#include "smile.h"


static int smile_digits(const unsigned char *p, size_t n,
    int *out);
static long long smile_days(int year, int month, int day);


static const unsigned char  smile_mdays[12] =
    { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };


/*
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), "T" and "Z" in either
 * case, as RFC 3339 section 5.6 has it.  The fraction is ignored and a
 * leap second (":60") counts as the next second.
 */

int
smile_parse_time(const unsigned char *p, size_t len,
    long long *out)
{
    int                   year, month, day, hour, min, sec, oh, om, sign;
    long long             t;
    const unsigned char  *end;

    end = p + len;

    if (len < 20
        || smile_digits(p, 4, &year) != 0
        || p[4] != '-'
        || smile_digits(p + 5, 2, &month) != 0
        || p[7] != '-'
        || smile_digits(p + 8, 2, &day) != 0
        || (p[10] != 'T' && p[10] != 't')
        || smile_digits(p + 11, 2, &hour) != 0
        || p[13] != ':'
        || smile_digits(p + 14, 2, &min) != 0
        || p[16] != ':'
        || smile_digits(p + 17, 2, &sec) != 0)
    {
        return -1;
    }

    if (month < 1 || month > 12
        || day < 1 || day > smile_mdays[month - 1]
        || (month == 2 && day == 29
            && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
        || hour > 23 || min > 59 || sec > 60)
    {
        return -1;
    }

    p += 19;

    if (*p == '.') {
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return -1;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p == end) {
        return -1;
    }

    if (*p == 'Z' || *p == 'z') {
        p++;
        oh = 0;
        om = 0;
        sign = 1;

    } else if (*p == '+' || *p == '-') {
        sign = (*p == '-') ? -1 : 1;

        if (end - p < 6
            || smile_digits(p + 1, 2, &oh) != 0
            || p[3] != ':'
            || smile_digits(p + 4, 2, &om) != 0
            || oh > 23 || om > 59)
        {
            return -1;
        }

        p += 6;

    } else {
        return -1;
    }

    if (p != end) {
        return -1;
    }

    t = smile_days(year, month, day) * 86400
        + hour * 3600 + min * 60 + sec;

    /* local time = UTC + offset */

    *out = t - sign * (oh * 3600 + om * 60);

    return 0;
}


static int
smile_digits(const unsigned char *p, size_t n, int *out)
{
    int  v;

    v = 0;

    while (n--) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        v = v * 10 + (*p++ - '0');
    }

    *out = v;

    return 0;
}


/* days from 1970-01-01 to a date of the proleptic Gregorian calendar */

static long long
smile_days(int year, int month, int day)
{
    long long  y, era, yoe, doy, doe;

    /* a year that starts in March puts the leap day last */

    y = year - (month <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}
