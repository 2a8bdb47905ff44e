# expect: not ok 1 - .* - die as expected
# expect: nginx must die but it does not
use Test::Nginx::Socket;
plan tests => repeat_each() * blocks();
run_tests();
__DATA__

=== TEST 1: --- must_die but the config is fine
--- config
    location = /t { echo ok; }
--- must_die
