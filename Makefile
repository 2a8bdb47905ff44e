# ngx_smile_webhook_module
#
#   make                build build/ngx_http_smile_webhook_module.so against
#                       Debian's nginx-dev (or NGINX_SRC=/path/to/nginx-x.y.z)
#                       and the smile-webhook command, build/cli/smile-webhook
#   make test           unit tests, the Test::Nginx suite, the command's tests
#   make deb            the Debian packages, in build/deb/ (tools/build-deb)
#   make check-deb      install, try and remove them (root; tools/check-deb)
#   make test-valgrind  the Test::Nginx suite with nginx under valgrind
#   make demo           nginx + module in front of a demo backend
#   make fuzz           libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make soak           hostile load with reloads against a real backend
#   make bench          side-by-side benchmark: plain, module, lua, njs

SHELL      := /bin/bash
BUILD      := $(CURDIR)/build
MODULE     := $(BUILD)/ngx_http_smile_webhook_module.so
CLI        := $(BUILD)/cli/smile-webhook
SOURCES    := config $(wildcard ngx_smile_webhook_module/*.[ch] ngx_smile_webhook_module/smile/*.[ch])
NGINX      ?= /usr/sbin/nginx
# Debian's nginx logs early configuration errors to stderr only; the
# wrapper adds "-e logs/error.log" so "--- must_die" blocks can read them
TEST_NGINX  = $(CURDIR)/tools/test-nginx-compat/nginx-errlog-wrapper

# Debian packages the build and the tests need
BUILD_DEBS := nginx nginx-dev libssl-dev libyajl-dev libhiredis-dev gcc make \
              libcurl4-openssl-dev
TEST_DEBS  := $(BUILD_DEBS) perl libtest-base-perl libtest-longstring-perl \
              libtext-diff-perl libwww-perl liblist-moreutils-perl \
              libipc-run-perl libnginx-mod-http-echo redis-server \
              libnginx-mod-http-lua curl pkg-config openssl
VG_DEBS    := valgrind
DEB_DEBS   := $(BUILD_DEBS) build-essential debhelper dpkg-dev

# the Test::Nginx-compatible runner is used only when the real one is absent
PROVE_INC   = $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                || echo -I$(CURDIR)/tools/test-nginx-compat/lib)
MODULES_DIR := /usr/lib/nginx/modules
TEST_MODULES = $(MODULES_DIR)/ndk_http_module.so \
               $(MODULES_DIR)/ngx_http_echo_module.so \
               $(MODULES_DIR)/ngx_http_lua_module.so \
               $(MODULE)

FUZZ_SECONDS ?= 60

.PHONY: all module cli deps test-deps test unit test-nginx test-cli \
        test-valgrind demo fuzz soak bench deb check-deb clean

all: module cli

module: $(MODULE)

deps:
	@tools/ensure-debs $(BUILD_DEBS)

test-deps:
	@tools/ensure-debs $(TEST_DEBS)

$(MODULE): $(SOURCES) | deps
	@tools/build-module "$(BUILD)" "$(NGINX_SRC)"

cli: | deps
	@$(MAKE) -s -C cli BUILD=$(BUILD)/cli

unit: | deps
	@$(MAKE) -s -C unit BUILD=$(BUILD)/unit run

test-nginx: $(MODULE) | test-deps
	TEST_NGINX_BINARY=$(TEST_NGINX) TEST_NGINX_REAL_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES="$(TEST_MODULES)" \
	prove $(PROVE_INC) -r t

test: test-deps $(MODULE)
	@$(MAKE) -s unit
	@$(MAKE) -s test-nginx
	@$(MAKE) -s test-cli

test-cli: $(MODULE) cli | test-deps
	SMILE_WEBHOOK=$(CLI) SMILE_MODULE=$(MODULE) NGINX=$(NGINX) \
	prove -r cli/t

test-valgrind: $(MODULE) | test-deps
	@tools/ensure-debs $(VG_DEBS)
	TEST_NGINX_USE_VALGRIND=1 \
	TEST_NGINX_BINARY=$(TEST_NGINX) TEST_NGINX_REAL_BINARY=$(NGINX) \
	TEST_NGINX_LOAD_MODULES="$(TEST_MODULES)" \
	prove $(PROVE_INC) -r t

demo: $(MODULE)
	@demo/run

fuzz: | deps
	@tools/ensure-debs clang libclang-rt-14-dev
	@$(MAKE) -s -C fuzz run BUILD=$(BUILD)/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

soak: $(MODULE) | test-deps
	@soak/run

bench: $(MODULE) | test-deps
	@bench/run

deb:
	@tools/ensure-debs $(DEB_DEBS)
	@tools/build-deb "$(BUILD)/deb"

check-deb: deb
	@tools/check-deb "$(BUILD)/deb"

clean:
	rm -rf $(BUILD) t/servroot
