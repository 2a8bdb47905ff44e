
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * libFuzzer target: the streaming event parser.
 *
 * The whole input is a request body.  It is parsed several times, cut into
 * feed() calls in different ways (whole, one byte at a time, two pieces,
 * small and medium random chunks with empty feeds in between, cuts around
 * every quote, backslash, structural and non-ASCII byte and 63 to 66 bytes
 * after each quote); the cuts come from a PRNG seeded with a hash of
 * the input, so a saved input replays exactly.  Every chunk is a heap copy
 * of its exact size, freed (after scribbling over it) as soon as feed()
 * returns, like an nginx buffer that gets reused.
 *
 * Checked:
 *  - the answer (rc, error string identity, id, type, createdAt, version,
 *    data.userId, data.accountId) is the same for every cut;
 *  - every field is NUL-terminated, no longer than its maximum and, when
 *    set, matches its safe pattern (whatever rc); rc is 0 or -1; rc 0 has
 *    no error, an id and a type; rc -1 has a short printable error;
 *  - an independent model of the contract (a strict RFC 8259 parser with
 *    the documented limits, below) accepts exactly what the parser accepts
 *    and extracts the same fields.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smile.h"
#include "fuzz_common.h"


/* one byte at a time for bodies up to this size, at both ends above it */
#define FUZZ_BYTEWISE_MAX   8192
#define FUZZ_BYTEWISE_EDGE  2048
/* the block scanner's block, and the largest random chunk */
#define FUZZ_BLOCK          64
#define FUZZ_MEDIUM         1552


typedef struct {
    int                              rc;
    const char                      *error;
    unsigned                         started;
    unsigned                         done;
    smile_field_t   id;
    smile_field_t   type;
    smile_field_t   created_at;
    smile_field_t   version;
    smile_field_t   user_id;
    smile_field_t   account_id;
} fuzz_result_t;


typedef int (*fuzz_pattern_pt)(const unsigned char *p, size_t len);

typedef struct {
    const char                      *name;
    size_t                           offset;
    size_t                           max;
    fuzz_pattern_pt                  pattern;
} fuzz_field_t;


static const fuzz_field_t  fuzz_fields[] = {
    { "id", offsetof(fuzz_result_t, id), SMILE_ID_MAX,
      smile_is_id },
    { "type", offsetof(fuzz_result_t, type), SMILE_TYPE_MAX,
      smile_is_type },
    { "createdAt", offsetof(fuzz_result_t, created_at), SMILE_TIME_MAX,
      smile_is_time },
    { "version", offsetof(fuzz_result_t, version), SMILE_VERSION_MAX,
      smile_is_version },
    { "data.userId", offsetof(fuzz_result_t, user_id), SMILE_ID_MAX,
      smile_is_id },
    { "data.accountId", offsetof(fuzz_result_t, account_id),
      SMILE_ID_MAX, smile_is_id },
    { NULL, 0, 0, NULL }
};


#define fuzz_field(r, f)                                                     \
    ((const smile_field_t *) ((const char *) (r)            \
                                               + (f)->offset))


/* ------------------------------------------------------------------ */
/* the safe patterns, re-implemented from the contract                 */

static int
fuzz_in_set(const unsigned char *p, size_t len, size_t max, const char *set)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] == '\0' || strchr(set, p[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


#define FUZZ_UPPER  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define FUZZ_LOWER  "abcdefghijklmnopqrstuvwxyz"
#define FUZZ_DIGIT  "0123456789"

static int
fuzz_is_id(const unsigned char *p, size_t len)
{
    return fuzz_in_set(p, len, 128, FUZZ_UPPER FUZZ_LOWER FUZZ_DIGIT "._:-");
}


static int
fuzz_is_type(const unsigned char *p, size_t len)
{
    return fuzz_in_set(p, len, 64, FUZZ_UPPER FUZZ_DIGIT "_");
}


static int
fuzz_is_time(const unsigned char *p, size_t len)
{
    return fuzz_in_set(p, len, 64, FUZZ_UPPER FUZZ_LOWER FUZZ_DIGIT ":.+-");
}


static int
fuzz_is_version(const unsigned char *p, size_t len)
{
    return fuzz_in_set(p, len, 10, FUZZ_DIGIT);
}


/* ------------------------------------------------------------------ */
/* the model                                                           */

/*
 * A strict RFC 8259 parser written from PRODUCT.md and the header, not
 * from the parser's code.  The contract it encodes:
 *
 *  - the body is one JSON object, nothing but JSON whitespace around it;
 *  - every string is strict UTF-8 (RFC 3629), escapes as RFC 8259;
 *  - at most SMILE_MAX_DEPTH nested containers, the top object counted;
 *  - a number is at most SMILE_TOKEN_MAX bytes;
 *  - top-level "id" and "type" are required strings matching their safe
 *    patterns; "createdAt", when present, a string matching its pattern;
 *    "version" is kept when it is a number matching its pattern and is
 *    ignored otherwise; "data.userId" (a key of the top-level "data"
 *    object) when present a string matching the id pattern;
 *    "data.accountId" kept when a string matching it, ignored otherwise;
 *    keys are compared after unescaping;
 *  - any of those keys twice at its level rejects the body;
 *  - a value or key is judged by what it decodes to: one that decodes to
 *    more bytes than a pattern allows, or to anything but printable ASCII,
 *    matches nothing.
 *
 * Patterns apply to the unescaped value; a value that unescapes to
 * anything but printable ASCII never matches one, so how a lone surrogate
 * or \u0000 decodes does not matter here.  \v and \f are not white space.
 */

enum {
    FUZZ_F_NONE = 0,
    FUZZ_F_ID,
    FUZZ_F_TYPE,
    FUZZ_F_CREATED_AT,
    FUZZ_F_VERSION,
    FUZZ_F_DATA,
    FUZZ_F_USER_ID,
    FUZZ_F_ACCOUNT_ID
};


typedef struct {
    const unsigned char             *p;
    const unsigned char             *last;
    const char                      *why;       /* the first problem */
    fuzz_result_t                   *res;
} fuzz_model_t;


typedef struct {
    size_t                           len;       /* unescaped bytes kept */
    unsigned                         ascii:1;   /* printable ASCII only */
    unsigned char                    data[SMILE_ID_MAX + 1];
} fuzz_string_t;


static int fuzz_model_value(fuzz_model_t *m, unsigned depth, unsigned field);


static int
fuzz_model_reject(fuzz_model_t *m, const char *why)
{
    if (m->why == NULL) {
        m->why = why;
    }

    return -1;
}


static void
fuzz_model_ws(fuzz_model_t *m)
{
    while (m->p < m->last
           && (*m->p == ' ' || *m->p == '\t' || *m->p == '\r'
               || *m->p == '\n'))
    {
        m->p++;
    }
}


static int
fuzz_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


/* strict UTF-8: the length of the sequence at p, 0 when invalid */
static size_t
fuzz_utf8(const unsigned char *p, const unsigned char *last)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (p[0] < 0x80) {
        return 1;

    } else if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = p[0] & 0x1f;
        min = 0x80;

    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;
        min = 0x800;

    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = p[0] & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = cp << 6 | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


static int
fuzz_model_string(fuzz_model_t *m, fuzz_string_t *s)
{
    int                   d, k;
    size_t                n;
    unsigned              cp;

    s->len = 0;
    s->ascii = 1;

    m->p++;             /* past the opening quote */

    for ( ;; ) {
        if (m->p == m->last) {
            return fuzz_model_reject(m, "unterminated string");
        }

        if (*m->p == '"') {
            m->p++;
            s->data[s->len] = '\0';
            return 0;
        }

        if (*m->p < 0x20) {
            return fuzz_model_reject(m, "control character in a string");
        }

        if (*m->p == '\\') {
            if (m->last - m->p < 2) {
                return fuzz_model_reject(m, "unterminated escape");
            }

            switch (m->p[1]) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;

            case 'u':
                if (m->last - m->p < 6) {
                    return fuzz_model_reject(m, "short \\u escape");
                }

                cp = 0;

                for (k = 2; k < 6; k++) {
                    d = fuzz_hexval(m->p[k]);
                    if (d < 0) {
                        return fuzz_model_reject(m, "bad \\u escape");
                    }

                    cp = cp << 4 | (unsigned) d;
                }

                m->p += 4;
                break;

            default:
                return fuzz_model_reject(m, "bad escape");
            }

            m->p += 2;

        } else {
            n = fuzz_utf8(m->p, m->last);
            if (n == 0) {
                return fuzz_model_reject(m, "invalid UTF-8");
            }

            cp = (n == 1) ? *m->p : 0x80;
            m->p += n;
        }

        if (cp < 0x20 || cp >= 0x7f) {
            s->ascii = 0;
        }

        if (s->len < sizeof(s->data) - 1) {
            s->data[s->len++] = (unsigned char) cp;

        } else {
            s->ascii = 0;       /* longer than any pattern allows */
        }
    }
}


static int
fuzz_model_number(fuzz_model_t *m, unsigned field)
{
    const unsigned char  *p, *start;

    start = p = m->p;

    if (p < m->last && *p == '-') {
        p++;
    }

    if (p == m->last || *p < '0' || *p > '9') {
        return fuzz_model_reject(m, "bad number");
    }

    if (*p == '0') {
        p++;

    } else {
        while (p < m->last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < m->last && *p == '.') {
        p++;

        if (p == m->last || *p < '0' || *p > '9') {
            return fuzz_model_reject(m, "bad fraction");
        }

        while (p < m->last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < m->last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < m->last && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == m->last || *p < '0' || *p > '9') {
            return fuzz_model_reject(m, "bad exponent");
        }

        while (p < m->last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    m->p = p;

    if ((size_t) (p - start) > SMILE_TOKEN_MAX) {
        return fuzz_model_reject(m, "number too long");
    }

    if (field == FUZZ_F_VERSION && fuzz_is_version(start, p - start)) {
        memcpy(m->res->version.data, start, p - start);
        m->res->version.data[p - start] = '\0';
        m->res->version.len = p - start;
    }

    return 0;
}


/* the keys an object at this level tracks; "kind" is FUZZ_F_DATA or not */
static unsigned
fuzz_model_key(const fuzz_string_t *k, int top, int data)
{
    static const struct {
        const char  *name;
        unsigned     field;
        int          top;
    } keys[] = {
        { "id", FUZZ_F_ID, 1 },
        { "type", FUZZ_F_TYPE, 1 },
        { "createdAt", FUZZ_F_CREATED_AT, 1 },
        { "version", FUZZ_F_VERSION, 1 },
        { "data", FUZZ_F_DATA, 1 },
        { "userId", FUZZ_F_USER_ID, 0 },
        { "accountId", FUZZ_F_ACCOUNT_ID, 0 },
        { NULL, 0, 0 }
    };

    size_t  i;

    if (!top && !data) {
        return FUZZ_F_NONE;
    }

    for (i = 0; keys[i].name; i++) {
        if (keys[i].top == top
            && k->ascii         /* data[] keeps only a code point's low byte */
            && strlen(keys[i].name) == k->len
            && memcmp(keys[i].name, k->data, k->len) == 0)
        {
            return keys[i].field;
        }
    }

    return FUZZ_F_NONE;
}


static int
fuzz_model_object(fuzz_model_t *m, unsigned depth, int top, int data)
{
    unsigned       seen, field;
    fuzz_string_t  key;

    if (depth > SMILE_MAX_DEPTH) {
        return fuzz_model_reject(m, "too deep");
    }

    m->p++;     /* '{' */
    seen = 0;

    fuzz_model_ws(m);

    if (m->p < m->last && *m->p == '}') {
        m->p++;
        return 0;
    }

    for ( ;; ) {
        fuzz_model_ws(m);

        if (m->p == m->last || *m->p != '"') {
            return fuzz_model_reject(m, "key expected");
        }

        if (fuzz_model_string(m, &key) != 0) {
            return -1;
        }

        field = fuzz_model_key(&key, top, data);

        if (field != FUZZ_F_NONE) {
            if (seen & (1u << field)) {
                return fuzz_model_reject(m, "duplicate key");
            }

            seen |= 1u << field;
        }

        fuzz_model_ws(m);

        if (m->p == m->last || *m->p != ':') {
            return fuzz_model_reject(m, "colon expected");
        }

        m->p++;

        if (fuzz_model_value(m, depth, field) != 0) {
            return -1;
        }

        fuzz_model_ws(m);

        if (m->p < m->last && *m->p == ',') {
            m->p++;
            continue;
        }

        if (m->p < m->last && *m->p == '}') {
            m->p++;
            return 0;
        }

        return fuzz_model_reject(m, "comma or brace expected");
    }
}


static int
fuzz_model_array(fuzz_model_t *m, unsigned depth)
{
    if (depth > SMILE_MAX_DEPTH) {
        return fuzz_model_reject(m, "too deep");
    }

    m->p++;     /* '[' */

    fuzz_model_ws(m);

    if (m->p < m->last && *m->p == ']') {
        m->p++;
        return 0;
    }

    for ( ;; ) {
        if (fuzz_model_value(m, depth, FUZZ_F_NONE) != 0) {
            return -1;
        }

        fuzz_model_ws(m);

        if (m->p < m->last && *m->p == ',') {
            m->p++;
            continue;
        }

        if (m->p < m->last && *m->p == ']') {
            m->p++;
            return 0;
        }

        return fuzz_model_reject(m, "comma or bracket expected");
    }
}


static void
fuzz_model_set(smile_field_t *f, const fuzz_string_t *s)
{
    memcpy(f->data, s->data, s->len);
    f->data[s->len] = '\0';
    f->len = s->len;
}


/* a value inside a container "depth" deep, filling "field" */
static int
fuzz_model_value(fuzz_model_t *m, unsigned depth, unsigned field)
{
    int                   strict;
    fuzz_string_t         s;
    fuzz_pattern_pt       pattern;
    fuzz_result_t        *res;
    static const char    *lits[] = { "true", "false", "null", NULL };
    const char          **lit;

    res = m->res;

    /* fields that must be strings when present */
    strict = (field == FUZZ_F_ID || field == FUZZ_F_TYPE
              || field == FUZZ_F_CREATED_AT || field == FUZZ_F_USER_ID);

    fuzz_model_ws(m);

    if (m->p == m->last) {
        return fuzz_model_reject(m, "value expected");
    }

    switch (*m->p) {

    case '{':
        if (strict) {
            return fuzz_model_reject(m, "field is an object");
        }

        return fuzz_model_object(m, depth + 1, 0,
                                 depth == 1 && field == FUZZ_F_DATA);

    case '[':
        if (strict) {
            return fuzz_model_reject(m, "field is an array");
        }

        return fuzz_model_array(m, depth + 1);

    case '"':
        if (fuzz_model_string(m, &s) != 0) {
            return -1;
        }

        switch (field) {
        case FUZZ_F_ID:
        case FUZZ_F_USER_ID:
        case FUZZ_F_ACCOUNT_ID:
            pattern = fuzz_is_id;
            break;
        case FUZZ_F_TYPE:
            pattern = fuzz_is_type;
            break;
        case FUZZ_F_CREATED_AT:
            pattern = fuzz_is_time;
            break;
        default:
            return 0;
        }

        if (!s.ascii || !pattern(s.data, s.len)) {
            if (field == FUZZ_F_ACCOUNT_ID) {
                return 0;
            }

            return fuzz_model_reject(m, "field does not match its pattern");
        }

        switch (field) {
        case FUZZ_F_ID:
            fuzz_model_set(&res->id, &s);
            break;
        case FUZZ_F_TYPE:
            fuzz_model_set(&res->type, &s);
            break;
        case FUZZ_F_CREATED_AT:
            fuzz_model_set(&res->created_at, &s);
            break;
        case FUZZ_F_USER_ID:
            fuzz_model_set(&res->user_id, &s);
            break;
        default:
            fuzz_model_set(&res->account_id, &s);
            break;
        }

        return 0;

    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if (strict) {
            return fuzz_model_reject(m, "field is a number");
        }

        return fuzz_model_number(m, field);

    default:
        for (lit = lits; *lit; lit++) {
            if ((size_t) (m->last - m->p) >= strlen(*lit)
                && memcmp(m->p, *lit, strlen(*lit)) == 0)
            {
                if (strict) {
                    return fuzz_model_reject(m, "field is a literal");
                }

                m->p += strlen(*lit);
                return 0;
            }
        }

        return fuzz_model_reject(m, "bad value");
    }
}


/* 1: valid event, 0: rejected */
static int
fuzz_model(const unsigned char *p, size_t n, fuzz_result_t *res,
    const char **why)
{
    fuzz_model_t  m;

    memset(res, 0, sizeof(fuzz_result_t));

    m.p = p;
    m.last = p + n;
    m.why = NULL;
    m.res = res;

    fuzz_model_ws(&m);

    if (m.p == m.last || *m.p != '{') {
        *why = "not an object";
        return 0;
    }

    if (fuzz_model_object(&m, 1, 1, 0) != 0) {
        *why = m.why;
        return 0;
    }

    fuzz_model_ws(&m);

    if (m.p != m.last) {
        *why = "trailing bytes";
        return 0;
    }

    if (res->id.len == 0) {
        *why = "no id";
        return 0;
    }

    if (res->type.len == 0) {
        *why = "no type";
        return 0;
    }

    *why = NULL;
    return 1;
}


/* ------------------------------------------------------------------ */
/* driving the parser                                                  */

static void
fuzz_parse(const unsigned char *data, size_t size, const fuzz_plan_t *pl,
    fuzz_result_t *res)
{
    size_t                           i, off;
    unsigned char                   *chunk;
    smile_event_t   ev;

    if (pl->total != size) {
        fuzz_fail("plan covers %zu of %zu bytes", pl->total, size);
    }

    if (smile_event_init(&ev) != 0) {
        fuzz_fail("event_init failed");
    }

    for (i = 0, off = 0; i < pl->n; i++) {
        chunk = fuzz_dup(data + off, pl->len[i]);
        smile_event_feed(&ev, chunk, pl->len[i]);
        memset(chunk, 0xa5, pl->len[i]);
        free(chunk);
        off += pl->len[i];
    }

    memset(res, 0, sizeof(fuzz_result_t));

    res->rc = smile_event_finish(&ev);
    res->error = ev.error;
    res->started = ev.started;
    res->done = ev.done;
    res->id = ev.id;
    res->type = ev.type;
    res->created_at = ev.created_at;
    res->version = ev.version;
    res->user_id = ev.user_id;
    res->account_id = ev.account_id;

    smile_event_free(&ev);
}


static int
fuzz_field_eq(const smile_field_t *a,
    const smile_field_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}


static const char *
fuzz_result_diff(const fuzz_result_t *a, const fuzz_result_t *b,
    int with_error)
{
    const fuzz_field_t  *f;

    if (a->rc != b->rc) {
        return "rc";
    }

    if (with_error && a->error != b->error) {
        return "error";
    }

    for (f = fuzz_fields; f->name; f++) {
        if (!fuzz_field_eq(fuzz_field(a, f), fuzz_field(b, f))) {
            return f->name;
        }
    }

    return NULL;
}


static void
fuzz_result_dump(const char *what, const fuzz_result_t *r)
{
    const fuzz_field_t                    *f;
    const smile_field_t  *v;

    fprintf(stderr, "  %s: rc=%d error=%s%s%s\n", what, r->rc,
            r->error ? "\"" : "", r->error ? r->error : "NULL",
            r->error ? "\"" : "");

    for (f = fuzz_fields; f->name; f++) {
        v = fuzz_field(r, f);

        if (v->len) {
            fprintf(stderr, "    %s=\"%s\"\n", f->name,
                    fuzz_show(v->data, v->len > SMILE_ID_MAX
                                       ? SMILE_ID_MAX : v->len));
        }
    }
}


static void
fuzz_check_invariants(const unsigned char *data, size_t size,
    const fuzz_result_t *r)
{
    size_t                                 i;
    const fuzz_field_t                    *f;
    const smile_field_t  *v;

    if (r->rc != 0 && r->rc != -1) {
        fuzz_fail("event_finish returned %d", r->rc);
    }

    for (f = fuzz_fields; f->name; f++) {
        v = fuzz_field(r, f);

        if (v->len > f->max) {
            fuzz_fail("%s: len %zu > max %zu", f->name, v->len, f->max);
        }

        if (v->data[v->len] != '\0') {
            fuzz_fail("%s: not NUL-terminated", f->name);
        }

        if (v->len == 0) {
            continue;
        }

        if (!f->pattern(v->data, v->len)) {
            fuzz_fail("%s \"%s\" set but the module's own pattern rejects it",
                      f->name, fuzz_show(v->data, v->len));
        }

        /* the contract's pattern, checked independently */
        if (!(f->pattern == smile_is_id
              ? fuzz_is_id(v->data, v->len)
              : f->pattern == smile_is_type
              ? fuzz_is_type(v->data, v->len)
              : f->pattern == smile_is_time
              ? fuzz_is_time(v->data, v->len)
              : fuzz_is_version(v->data, v->len)))
        {
            fuzz_fail("%s \"%s\" is outside the documented pattern",
                      f->name, fuzz_show(v->data, v->len));
        }
    }

    if (r->rc == 0) {
        if (r->error != NULL) {
            fuzz_fail("rc 0 with error \"%s\"", r->error);
        }

        if (r->id.len == 0 || r->type.len == 0) {
            fuzz_fail("rc 0 without an id or a type");
        }

        if (!r->started || !r->done) {
            fuzz_fail("rc 0 but started=%u done=%u", r->started, r->done);
        }

        return;
    }

    if (r->error == NULL) {
        fuzz_fail("rc -1 without an error");
    }

    for (i = 0; r->error[i]; i++) {
        if (i > 200 || r->error[i] < 0x20 || r->error[i] > 0x7e) {
            fuzz_fail("error string is not short printable text");
        }
    }

    if (i == 0) {
        fuzz_fail("empty error string");
    }

    (void) data;
    (void) size;
}


/* cuts before and after every byte that changes the parser's state */
static void
fuzz_plan_struct(fuzz_plan_t *pl, const unsigned char *data, size_t size)
{
    size_t         i, last, quote;
    unsigned char  c;

    fuzz_plan_reset(pl);

    last = 0;
    quote = 0;

    for (i = 0; i < size; i++) {
        c = data[i];

        if (c == '"') {
            quote = i;
        }

        if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '['
            || c == ']' || c == ':' || c == ',' || c >= 0x80
            || (i > quote && i - quote >= FUZZ_BLOCK - 1
                && i - quote <= FUZZ_BLOCK + 2))
        {
            if (i > last) {
                fuzz_plan_add(pl, i - last);
            }

            fuzz_plan_add(pl, 1);
            last = i + 1;
        }
    }

    if (size > last) {
        fuzz_plan_add(pl, size - last);
    }
}


enum {
    FUZZ_PLAN_WHOLE = 0,
    FUZZ_PLAN_BYTES,
    FUZZ_PLAN_TWO,
    FUZZ_PLAN_THREE,
    FUZZ_PLAN_SMALL,
    FUZZ_PLAN_MEDIUM,
    FUZZ_PLAN_STRUCT,
    FUZZ_PLAN_LAST
};


static void
fuzz_plan_make(fuzz_plan_t *pl, int which, fuzz_rng_t *rng,
    const unsigned char *data, size_t size)
{
    size_t  i, a, b;

    fuzz_plan_reset(pl);

    switch (which) {

    case FUZZ_PLAN_WHOLE:
        fuzz_plan_add(pl, size);
        break;

    case FUZZ_PLAN_BYTES:
        if (size <= FUZZ_BYTEWISE_MAX) {
            for (i = 0; i < size; i++) {
                fuzz_plan_add(pl, 1);
            }

            break;
        }

        for (i = 0; i < FUZZ_BYTEWISE_EDGE; i++) {
            fuzz_plan_add(pl, 1);
        }

        fuzz_plan_add(pl, size - 2 * FUZZ_BYTEWISE_EDGE);

        for (i = 0; i < FUZZ_BYTEWISE_EDGE; i++) {
            fuzz_plan_add(pl, 1);
        }

        break;

    case FUZZ_PLAN_TWO:
        a = fuzz_below(rng, size + 1);
        fuzz_plan_add(pl, a);
        fuzz_plan_add(pl, size - a);
        break;

    case FUZZ_PLAN_THREE:
        a = fuzz_below(rng, size + 1);
        b = fuzz_below(rng, size + 1);

        if (a > b) {
            i = a; a = b; b = i;
        }

        fuzz_plan_add(pl, a);
        fuzz_plan_add(pl, b - a);
        fuzz_plan_add(pl, size - b);
        break;

    case FUZZ_PLAN_SMALL:
        fuzz_plan_random(pl, rng, size, 8, 1);
        break;

    case FUZZ_PLAN_MEDIUM:
        fuzz_plan_random(pl, rng, size, FUZZ_MEDIUM, 1);
        break;

    default:
        fuzz_plan_struct(pl, data, size);
        break;
    }
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  which, verdict;
    const char          *what, *why;
    fuzz_rng_t           rng;
    fuzz_plan_t          pl;
    fuzz_result_t        first, other, model;
    static int           verbose = -1;
    static const char   *names[] = {
        "whole", "bytes", "two", "three", "small", "medium", "struct"
    };

    memset(&pl, 0, sizeof(pl));
    rng.s = fuzz_hash(data, size);

    fuzz_plan_make(&pl, FUZZ_PLAN_WHOLE, &rng, data, size);
    fuzz_parse(data, size, &pl, &first);
    fuzz_check_invariants(data, size, &first);

    for (which = FUZZ_PLAN_WHOLE + 1; which < FUZZ_PLAN_LAST; which++) {
        fuzz_plan_make(&pl, which, &rng, data, size);
        fuzz_parse(data, size, &pl, &other);

        what = fuzz_result_diff(&first, &other, 1);

        if (what) {
            fprintf(stderr, "\nsplit disagreement on %s; body %zu bytes: "
                    "\"%s\"\n", what, size, fuzz_show(data, size));
            fuzz_result_dump("whole", &first);
            fuzz_result_dump(names[which], &other);
            fprintf(stderr, "  plan %s: %s\n", names[which],
                    fuzz_plan_show(&pl));
            fuzz_fail("the answer depends on how the body is split (%s)",
                      what);
        }
    }

    fuzz_plan_free(&pl);

    verdict = fuzz_model(data, size, &model, &why);

    if (verbose < 0) {
        verbose = (getenv("FUZZ_VERBOSE") != NULL);
    }

    if (verbose) {
        fprintf(stderr, "fuzz_event: %zu bytes: rc=%d error=%s id=\"%s\" "
                "type=\"%s\"; model: %s\n", size, first.rc,
                first.error ? first.error : "-",
                fuzz_show(first.id.data, first.id.len),
                fuzz_show(first.type.data, first.type.len),
                verdict ? "valid event" : why);
    }

    model.rc = verdict ? 0 : -1;

    if (first.rc != model.rc
        || (verdict && fuzz_result_diff(&first, &model, 0)))
    {
        fprintf(stderr, "\nmodel disagreement; body %zu bytes: \"%s\"\n",
                size, fuzz_show(data, size));
        fuzz_result_dump("parser", &first);

        if (verdict) {
            fuzz_result_dump("model", &model);

        } else {
            fprintf(stderr, "  model: rejects: %s\n", why);
        }

        fuzz_fail("the parser and the contract model disagree");
    }

    return 0;
}
