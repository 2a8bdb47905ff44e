# Unit test (no nginx): classification of valgrind log records.
use strict;
use warnings;
use Test::More tests => 5;
use File::Temp qw(tempdir);
require Test::Nginx::Util;
$Test::Nginx::Util::InSubprocess = 1;    # no nginx to clean up here

my $dir = tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/valgrind.123.log" or die $!;
print $fh <<'LOG';
==123== Memcheck, a memory error detector
==123== Command: nginx -p x
==123== 
==123== Invalid read of size 4
==123==    at 0x4845A12: ngx_smile_webhook_handler (ngx_smile_webhook_module.c:120)
==123==    by 0x1A2B3C: ngx_http_core_content_phase (ngx_http_core_module.c:1268)
==123==  Address 0x0 is not stack'd, malloc'd or (recently) free'd
==123== 
==123== Conditional jump or move depends on uninitialised value(s)
==123==    at 0x1A2B3D: ngx_http_parse_request_line (ngx_http_parse.c:100)
==123== 
==123== HEAP SUMMARY:
==123==     in use at exit: 0 bytes in 0 blocks
==123== 
==123== 16 bytes in 1 blocks are definitely lost in loss record 1 of 2
==123==    at 0x483877F: malloc (vg_replace_malloc.c:307)
==123==    by 0x4845B00: smile_webhook_sign (ngx_smile_webhook_sign.c:33)
==123== 
==123== LEAK SUMMARY:
==123==    definitely lost: 16 bytes in 1 blocks
==123== 
==123== ERROR SUMMARY: 3 errors from 3 contexts (suppressed: 0 from 0)
LOG
close $fh;

my @recs = Test::Nginx::Util::valgrind_records("$dir/valgrind.123.log");
is(scalar @recs, 3, "three error records");
like($recs[0], qr/^Invalid read of size 4\n/, "invalid read record");
like($recs[1], qr/^Conditional jump/, "uninitialised record");
like($recs[2], qr/definitely lost.*smile_webhook_sign/s, "leak record");
is(scalar(grep { /smile_webhook/ } @recs), 2, "two records in module frames");
