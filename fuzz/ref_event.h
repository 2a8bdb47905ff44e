
/*
 * Copyright (C) ngx_smile_webhook_module authors
 *
 * The reference for the differential fuzzer (fuzz_diff.c): the event
 * parser as it was before the block scanner (commit c136cef), a yajl
 * callback parser with a byte scanner in front of it, kept verbatim under
 * the prefix ref_.  Only the fuzzer and the unit tests link it; the module
 * does not.
 */


#ifndef _REF_EVENT_H_INCLUDED_
#define _REF_EVENT_H_INCLUDED_


#include <stddef.h>
#include <yajl/yajl_parse.h>


#define REF_ID_MAX              128
#define REF_TYPE_MAX            64
#define REF_TIME_MAX            64
#define REF_VERSION_MAX         10
#define REF_MAX_DEPTH           256
#define REF_STRING_FED          (6 * REF_ID_MAX + 8)
#define REF_TOKEN_MAX           64


typedef struct {
    size_t                  len;
    unsigned char           data[REF_ID_MAX + 1];
} ref_field_t;


typedef struct {
    size_t                  run;
    size_t                  nesting;
    unsigned char           closed;
    unsigned char           in_string;
    unsigned char           eliding;
    unsigned char           escape;
    unsigned char           hex;
    unsigned char           utf8;
    unsigned char           lo;
    unsigned char           hi;
} ref_scan_t;


typedef struct {
    yajl_handle             yajl;
    void                   *arena;
    const char             *error;
    unsigned                depth;
    unsigned                field;
    unsigned                seen;
    unsigned                in_data:1;
    unsigned                started:1;
    unsigned                done:1;

    ref_scan_t              scan;

    ref_field_t             id;
    ref_field_t             type;
    ref_field_t             created_at;
    ref_field_t             version;
    ref_field_t             user_id;
    ref_field_t             account_id;
} ref_event_t;


int ref_is_type(const unsigned char *p, size_t len);
int ref_is_id(const unsigned char *p, size_t len);
int ref_is_time(const unsigned char *p, size_t len);
int ref_is_version(const unsigned char *p, size_t len);

int ref_event_init(ref_event_t *ev);
void ref_event_feed(ref_event_t *ev, const unsigned char *p, size_t len);
int ref_event_finish(ref_event_t *ev);
void ref_event_free(ref_event_t *ev);
void ref_event_exit(void);


#endif /* _REF_EVENT_H_INCLUDED_ */
