
/*
 * bench/micro/parse_bench.h - what parse_bench.c and parse_ops.c share.
 */


#ifndef _PARSE_BENCH_H_INCLUDED_
#define _PARSE_BENCH_H_INCLUDED_


#include <stddef.h>


typedef struct {
    const char          *name;
    unsigned char       *data;
    size_t               len;
} bench_body_t;


typedef int (*bench_op_pt)(const bench_body_t *b, size_t piece,
    unsigned *sink);


/* one build of the module's pure files: the ops that time it */
typedef struct {
    const char          *name;
    int                (*init)(const char *secret, size_t len);
    void               (*done)(void);
    bench_op_pt          hmac;
    bench_op_pt          parse;
    bench_op_pt          both;
    int                (*simd)(int level);  /* NULL: no block scanner */
} bench_ops_t;


#endif /* _PARSE_BENCH_H_INCLUDED_ */
