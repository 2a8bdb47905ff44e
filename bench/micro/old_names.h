/*
 * bench/micro/old_names.h - lets parse_ops.c, written against smile/smile.h,
 * drive a base commit from before the pure files moved to smile/ and took
 * the smile_ prefix: bench/micro/run copies it in as that base's smile.h.
 */

#ifndef _SMILE_OLD_NAMES_H_INCLUDED_
#define _SMILE_OLD_NAMES_H_INCLUDED_

#include "ngx_http_smile_webhook_pure.h"

#define SMILE_SIG_LEN           NGX_SMILE_SIG_LEN
#define smile_hmac_key_t        ngx_http_smile_webhook_hmac_key_t
#define smile_hmac_t            ngx_http_smile_webhook_hmac_t
#define smile_event_t           ngx_http_smile_webhook_event_t
#define smile_hmac_key_init     ngx_http_smile_webhook_hmac_key_init
#define smile_hmac_key_free     ngx_http_smile_webhook_hmac_key_free
#define smile_hmac_start        ngx_http_smile_webhook_hmac_start
#define smile_hmac_update       ngx_http_smile_webhook_hmac_update
#define smile_hmac_final        ngx_http_smile_webhook_hmac_final
#define smile_hmac_free         ngx_http_smile_webhook_hmac_free
#define smile_event_init        ngx_http_smile_webhook_event_init
#define smile_event_feed        ngx_http_smile_webhook_event_feed
#define smile_event_finish      ngx_http_smile_webhook_event_finish
#define smile_event_free        ngx_http_smile_webhook_event_free

#endif
