# ngx_smile_webhook_module
#
#   make                build build/ngx_http_smile_webhook_module.so against
#                       Debian's nginx-dev (or NGINX_SRC=/path/to/nginx-x.y.z)
#                       and the smile-webhook command, build/cli/smile-webhook
#   make test           unit tests, the Test::Nginx suite, the command's tests;
#                       the suite runs against Debian's nginx (or
#                       NGINX=/path/to/sbin/nginx with NGINX_SRC=its source
#                       tree; see tools/test-nginx-source)
#   make deb            the Debian packages, in build/deb/ (tools/build-deb)
#   make check-deb      install, try and remove them (root; tools/check-deb)
#   make test-valgrind  the Test::Nginx suite with nginx under valgrind
#   make demo           nginx + module in front of a demo backend
#   make fuzz           libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make soak           hostile load with reloads against a real backend
#   make bench          side-by-side benchmark: plain, module, lua, njs

SHELL      := /bin/bash
BUILD      := $(CURDIR)/build
# where the module is built (for another nginx source tree, say
# MODULE_DIR=build/nginx-1.x.y so that the two builds do not mix)
MODULE_DIR ?= $(BUILD)
MODULE     := $(MODULE_DIR)/ngx_http_smile_webhook_module.so
CLI        := $(BUILD)/cli/smile-webhook
SOURCES    := config $(wildcard ngx_smile_webhook_module/*.[ch] ngx_smile_webhook_module/smile/*.[ch])
# the nginx the suite runs against; the module must be built for it
NGINX      ?= /usr/sbin/nginx
# (nginx reads a variable NGINX from its environment: inherited sockets)
unexport NGINX
# Debian's nginx logs early configuration errors to stderr only; the
# wrapper adds "-e logs/error.log" so "--- must_die" blocks can read them
TEST_NGINX  = $(CURDIR)/tools/test-nginx-compat/nginx-errlog-wrapper

# Debian packages the build and the tests need
BUILD_DEBS := nginx nginx-dev libssl-dev libyajl-dev libhiredis-dev gcc make \
              libcurl4-openssl-dev
# (the lua module runs the few blocks that test the interplay with lua;
# the echo module is for tools/test-nginx-compat/selftest)
TEST_DEBS  := $(BUILD_DEBS) perl libtest-base-perl libtest-longstring-perl \
              libtext-diff-perl libwww-perl liblist-moreutils-perl \
              libipc-run-perl libnginx-mod-http-echo redis-server \
              libnginx-mod-http-lua curl pkg-config openssl
VG_DEBS    := valgrind
DEB_DEBS   := $(BUILD_DEBS) build-essential debhelper dpkg-dev

# the Test::Nginx-compatible runner is used only when the real one is absent
PROVE_INC  ?= $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                || echo -I$(CURDIR)/tools/test-nginx-compat/lib)
# The suite loads this module only, plus the lua module (and NDK) when
# there is one for NGINX: Debian's for Debian's nginx, otherwise whatever
# LUA_MODULES names (tools/test-nginx-source builds them).  Without lua,
# the blocks that need it are skipped and say so.
MODULES_DIR := /usr/lib/nginx/modules
LUA_MODULES ?= $(if $(filter /usr/sbin/nginx,$(NGINX)),$(wildcard \
                   $(MODULES_DIR)/ndk_http_module.so \
                   $(MODULES_DIR)/ngx_http_lua_module.so))
TEST_MODULES = $(strip $(LUA_MODULES) $(MODULE))
PROVE_ARGS  ?= -r t
TEST_ENV     = TEST_NGINX_BINARY=$(TEST_NGINX) TEST_NGINX_REAL_BINARY=$(NGINX) \
               TEST_NGINX_LOAD_MODULES="$(TEST_MODULES)"

# the module is rebuilt when NGINX_SRC changes, not only its sources
MODULE_FOR := $(MODULE_DIR)/.nginx-src
$(shell mkdir -p $(MODULE_DIR) && \
        { echo '$(NGINX_SRC)' | cmp -s - $(MODULE_FOR) \
          || echo '$(NGINX_SRC)' > $(MODULE_FOR); })

FUZZ_SECONDS ?= 60

.PHONY: all module cli deps test-deps test unit test-nginx test-cli \
        test-valgrind demo fuzz soak bench deb check-deb clean

all: module cli

module: $(MODULE)

deps:
	@tools/ensure-debs $(BUILD_DEBS)

test-deps:
	@tools/ensure-debs $(TEST_DEBS)

$(MODULE): $(SOURCES) $(MODULE_FOR) | deps
	@tools/build-module "$(MODULE_DIR)" "$(NGINX_SRC)"

cli: | deps
	@$(MAKE) -s -C cli BUILD=$(BUILD)/cli

unit: | deps
	@$(MAKE) -s -C unit BUILD=$(BUILD)/unit run

test-nginx: $(MODULE) | test-deps
	$(TEST_ENV) prove $(PROVE_INC) $(PROVE_ARGS)

test: test-deps $(MODULE)
	@$(MAKE) -s unit
	@$(MAKE) -s test-nginx
	@$(MAKE) -s test-cli

test-cli: $(MODULE) cli | test-deps
	SMILE_WEBHOOK=$(CLI) SMILE_MODULE=$(MODULE) NGINX=$(NGINX) \
	prove -r cli/t

test-valgrind: $(MODULE) | test-deps
	@tools/ensure-debs $(VG_DEBS)
	TEST_NGINX_USE_VALGRIND=1 $(TEST_ENV) prove $(PROVE_INC) $(PROVE_ARGS)

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
