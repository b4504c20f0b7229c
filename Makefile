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

.PHONY: all clean install test demo bench

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

# Each entry point installs what it needs first (apt-get as root).
test:
	tests/deps.sh build test
	$(MAKE) tend tests/unit/unit tests/unit/control
	tests/run

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
