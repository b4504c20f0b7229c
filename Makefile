# tend: a tiny static init and supervisor for containers.
#
# Overridable: CC CPPFLAGS CFLAGS LDFLAGS PREFIX DESTDIR.
# Warnings are errors; `make WERROR=0` relaxes that for other compilers.

CC      ?= musl-gcc
ifeq ($(origin CC),default)
CC      := musl-gcc
endif
CFLAGS  ?= -Os -pipe
LDFLAGS ?= -static -s
PREFIX  ?= /usr/local
DESTDIR ?=

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2
WERROR  ?= 1
ifeq ($(WERROR),1)
WARN    += -Werror
endif
# Required flags live apart from CFLAGS so overriding CFLAGS keeps them.
TEND_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -ffunction-sections \
               -fdata-sections -fno-asynchronous-unwind-tables
# musl applies RELRO only in its dynamic linker: in a static binary the
# region stays writable, and its page alignment would only pad the file.
TEND_LDFLAGS := -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro \
                -Wl,--build-id=none

SRCS := init.c loop.c cli.c conf.c keys.c fmt.c log.c mem.c output.c proc.c \
        prog.c ready.c sig.c users.c values.c buf.c http.c api.c xmlrpc.c \
        web.c ctl.c
OBJS := $(SRCS:.c=.o)
HDRS := $(filter-out page.h,$(wildcard *.h))

.PHONY: all clean install test demo bench fuzz fuzz-build fuzz-replay asan soak

all: tend

tend: $(OBJS)
	$(CC) $(TEND_LDFLAGS) $(LDFLAGS) -o $@ $(OBJS)

%.o: %.c $(HDRS)
	$(CC) $(TEND_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The status page, one C string with its style and script inline.
page.h: web/page.html web/page.css web/page.js tools/embed.sh
	sh tools/embed.sh web > $@.tmp && mv $@.tmp $@

web.o: page.h

install: tend
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 tend $(DESTDIR)$(PREFIX)/bin/tend

UNIT_OBJS := conf.o keys.o loop.o fmt.o log.o mem.o proc.o sig.o users.o values.o

tests/unit/unit: tests/unit/unit.c $(UNIT_OBJS) $(HDRS)
	$(CC) $(TEND_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ \
	    tests/unit/unit.c $(UNIT_OBJS)

# The control plane's parsers and writers, with everything but main.
CONTROL_OBJS := $(filter-out init.o,$(OBJS))

tests/unit/control: tests/unit/control.c $(CONTROL_OBJS) $(HDRS)
	$(CC) $(TEND_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ \
	    tests/unit/control.c $(CONTROL_OBJS)

# Each entry point installs what it needs first (apt-get as root). The
# suite, then the fuzzing corpus replayed, then each fuzz target a while.
TEST_FUZZ_SECONDS ?= 60

test:
	tests/deps.sh build test fuzz
	$(MAKE) tend tests/unit/unit tests/unit/control
	status=0; tests/run || status=$$?; \
	$(MAKE) fuzz-replay || status=1; \
	$(MAKE) fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) FUZZ_JOBS=2 || status=1; \
	exit $$status

demo:
	tests/deps.sh build demo
	$(MAKE) tend
	demo/run

bench:
	tests/deps.sh build bench
	$(MAKE) tend
	/usr/bin/python3 bench/bench.py

clean:
	rm -f tend $(OBJS) page.h tests/unit/unit tests/unit/control
	rm -rf build

# ---- fuzzing, the sanitized build and the soak test --------------------------
#
# Apart from the static build: clang (or gcc, for asan) with glibc.
#   make fuzz          the libFuzzer targets, each run FUZZ_SECONDS (FUZZ_JOBS
#                      at once); new inputs go to build/fuzz/corpus, crashes
#                      to build/fuzz/artifacts
#   make fuzz-replay   each target once over its corpus in tests/fuzz/corpus
#                      (the seeds and every crash found), as make test does
#   make asan          build/asan/tend and build/asan/unit, ASan and UBSan
#   make soak          SOAK_SECONDS (600) of crash loops, SIGKILLs and status
#                      requests against tend as PID 1

FUZZ_CC      ?= clang
ASAN_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_FLAGS   ?=
SOAK_SECONDS ?= 600
FUZZ_TARGETS := ini values conf http xmlrpc notify
FUZZ_BUILD   := build/fuzz
ASAN_BUILD   := build/asan
SANITIZE     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
GLIBC_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 $(WARN)
FUZZ_DEPS    := $(HDRS)

# What each target links: its parser's objects, no more. stubs stands in
# for the rest of tend; arena_guard makes arena allocations visible to
# ASan (see there), with the --wrap flags below.
FUZZ_OBJS_ini    :=
FUZZ_OBJS_values := values fmt mem sig arena_guard
FUZZ_OBJS_conf   := conf keys values users proc log fmt mem sig arena_guard
FUZZ_OBJS_http   := http values fmt mem sig buf log stubs
FUZZ_OBJS_xmlrpc := xmlrpc values fmt mem sig buf arena_guard stubs
FUZZ_OBJS_notify := ready log fmt stubs
ARENA_WRAP := -Wl,--wrap=arena_alloc,--wrap=arena_strndup,--wrap=arena_strdup,--wrap=arena_release
FUZZ_LIBS_values := $(ARENA_WRAP)
FUZZ_LIBS_conf   := $(ARENA_WRAP) -Wl,--wrap=open
FUZZ_LIBS_xmlrpc := $(ARENA_WRAP)

$(FUZZ_BUILD)/obj/%.o: %.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(GLIBC_CFLAGS) $(SANITIZE) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/obj/%.o: tests/fuzz/%.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(GLIBC_CFLAGS) $(SANITIZE) -fsanitize=fuzzer-no-link -c -o $@ $<

define FUZZ_TARGET
$(FUZZ_BUILD)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(patsubst %,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_OBJS_$(1))) $(FUZZ_DEPS)
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(GLIBC_CFLAGS) $$(SANITIZE) -fsanitize=fuzzer -o $$@ \
	    tests/fuzz/fuzz_$(1).c $(patsubst %,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_OBJS_$(1))) \
	    $(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET,$(t))))

fuzz-build:
	tests/deps.sh fuzz
	$(MAKE) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_FLAGS='$(FUZZ_FLAGS)' \
	    sh tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-replay: fuzz-build
	sh tests/fuzz/run.sh replay $(FUZZ_TARGETS)

ASAN_OBJS := $(SRCS:%.c=$(ASAN_BUILD)/obj/%.o)

$(ASAN_BUILD)/obj/%.o: %.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(GLIBC_CFLAGS) $(SANITIZE) -c -o $@ $<

$(ASAN_BUILD)/obj/web.o: page.h

$(ASAN_BUILD)/tend: $(ASAN_OBJS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(SANITIZE) -o $@ $(ASAN_OBJS)

$(ASAN_BUILD)/unit: tests/unit/unit.c $(UNIT_OBJS:%=$(ASAN_BUILD)/obj/%) $(FUZZ_DEPS)
	$(ASAN_CC) $(GLIBC_CFLAGS) $(SANITIZE) -o $@ tests/unit/unit.c \
	    $(UNIT_OBJS:%=$(ASAN_BUILD)/obj/%)

asan:
	tests/deps.sh build fuzz
	$(MAKE) $(ASAN_BUILD)/tend $(ASAN_BUILD)/unit

soak:
	tests/deps.sh build test soak
	$(MAKE) tend
	SOAK_SECONDS=$(SOAK_SECONDS) /usr/bin/python3 tests/soak.py
