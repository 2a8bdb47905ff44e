# expect: not ok \d+ - .* - header X-Foo ok
# expect: not ok \d+ - .* - header Server not present in the raw headers
# expect: not ok \d+ - .* - header X-Bar like ok
use Test::Nginx::Socket;
plan tests => repeat_each() * (blocks() * 4 - 1);
run_tests();
__DATA__

=== TEST 1: response_headers: wrong value and "!Header" that is present
--- config
    location = /t { add_header X-Foo foo; echo ok; }
--- request
GET /t
--- response_headers
X-Foo: bar
!Server
--- response_body
ok



=== TEST 2: response_headers_like mismatch
--- config
    location = /t { add_header X-Bar "abc 123"; echo ok; }
--- request
GET /t
--- response_headers_like
X-Bar: abc \d
--- response_body
ok
