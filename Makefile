# ringfetch — one non-recursive Makefile.
#   make            release build in build/rel/ (ringfetchd and ringfetch)
#   make check      install deps, build with ASan+UBSan, run every test
#   make demo       install deps, build, crawl a local demo server
#   make bench      scripts/bench.sh, then 10,000 held connections
#                   (scripts/bench-conns.sh)
#   make chaos      the fault tests at full size (20,000 jobs, 20 kill -9s)
#   make fuzz       libFuzzer search on every fuzz target (needs clang)
#   make tsan       build/tsan with ThreadSanitizer, then run the test of
#                   conn.c on several threads at once under it
#   make install    PREFIX=/usr/local DESTDIR=
#   V=1 for full command lines, WERROR=1 to fail on warnings.
#
# demo and check must work as the first command on a machine without the
# build packages, so nothing below may need them while make reads this
# file: pkg-config runs the first time a recipe needs its flags, and those
# targets install first and then build in a fresh $(MAKE), which looks
# for llhttp's sources only once they are there.

# The first target below is a library (the variant macro); the goal is not.
.DEFAULT_GOAL := all

# The release; the commit it was built from is reported apart
# (ringfetchd --version, status, ringfetch_build_info).
VERSION := 0.2.0
COMMIT := $(shell git describe --always --dirty --exclude='*' 2>/dev/null || echo unknown)
PREFIX ?= /usr/local
DESTDIR ?=
# What "installs the build packages" (tests point it at a stand-in).
INSTALL_DEPS ?= sh scripts/install-deps.sh

CC ?= gcc
CFLAGS ?= -O2 -g
WARN := -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wformat=2
ifeq ($(WERROR),1)
WARN += -Werror
endif
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
PKGS := liburing wolfssl yaml-0.1 libcares libsystemd zlib libzstd libbrotlidec
# Recursive on purpose, and run once on first use (the value then replaces
# the expression), not when make reads this file: see the top.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $$(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(shell pkg-config --libs $$(PKGS) 2>/dev/null))$(PKG_LIBS)
CPPFLAGS += -I$(LLHTTP_INC) -iquote daemon -iquote build -D_GNU_SOURCE
# build/version.h changes only when VERSION or COMMIT does, so exactly the
# files that include it are rebuilt then (their .d files name it) and none
# otherwise.
$(shell mkdir -p build && printf '#define RF_VERSION "%s"\n#define RF_COMMIT "%s"\n' \
	'$(VERSION)' '$(COMMIT)' > build/version.h.tmp && { cmp -s build/version.h.tmp build/version.h \
	|| mv build/version.h.tmp build/version.h; }; rm -f build/version.h.tmp)
ALL_CFLAGS = $(WARN) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS += $(PKG_LIBS) -lm -pthread

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN := -fsanitize=thread -fno-omit-frame-pointer
# TSan's exit status 66 on any report, and the first report stops the run
# (what a test then shows).
TSAN_ENV := TSAN_OPTIONS="$${TSAN_OPTIONS:-halt_on_error=1:exitcode=66:second_deadlock_stack=1}"
# The unit tests that start threads of ours, run under TSan.
TSAN_TESTS := conn_threads conn

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Every daemon/LAYER/*.c except the program entry point is part of the core
# library that the binaries and unit tests link against; client/ is the
# ringfetch binary's own.
MAINS := daemon/app/main.c
CORE_SRC := $(filter-out $(MAINS),$(wildcard daemon/*/*.c))
LLHTTP_SRC := $(LLHTTP_DIR)/llhttp.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c
CLIENT_SRC := $(wildcard client/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

define variant
# $(1) = build dir, $(2) = extra flags
$(1)/core/%.o: daemon/%.c
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  CC      $$@")
	$(Q)$$(CC) $$(ALL_CFLAGS) $(2) -c -o $$@ $$<
$(1)/client/%.o: client/%.c
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  CC      $$@")
	$(Q)$$(CC) $$(ALL_CFLAGS) $(2) -c -o $$@ $$<
$(1)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  CC      $$@")
	$(Q)$$(CC) -O2 -g -w -I$(LLHTTP_INC) $(2) -c -o $$@ $$<
$(1)/libcore.a: $(patsubst daemon/%.c,$(1)/core/%.o,$(CORE_SRC)) \
		$(patsubst $(LLHTTP_DIR)/%.c,$(1)/llhttp/%.o,$(LLHTTP_SRC))
	$$(if $$(Q),@echo "  AR      $$@")
	$(Q)rm -f $$@ && ar rcs $$@ $$^
$(1)/ringfetchd: $(1)/core/app/main.o $(1)/libcore.a
	$$(if $$(Q),@echo "  LD      $$@")
	$(Q)$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
$(1)/ringfetch: $(patsubst client/%.c,$(1)/client/%.o,$(CLIENT_SRC)) $(1)/libcore.a
	$$(if $$(Q),@echo "  LD      $$@")
	$(Q)$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
$(1)/fuzz_%: fuzz/fuzz_%.c fuzz/replay.c $(1)/libcore.a
	$$(if $$(Q),@echo "  CC      $$@")
	$(Q)$$(CC) $$(ALL_CFLAGS) -Wno-missing-prototypes $(2) -o $$@ $$< fuzz/replay.c $(1)/libcore.a $$(LDLIBS)
$(1)/test_%: tests/unit/test_%.c $(1)/libcore.a
	@mkdir -p $$(dir $$@)
	$$(if $$(Q),@echo "  CC      $$@")
	$(Q)$$(CC) $$(ALL_CFLAGS) -Itests/unit $(2) -o $$@ $$< $(1)/libcore.a $$(LDLIBS)
endef

$(eval $(call variant,build/rel,))
$(eval $(call variant,build/asan,$(SAN)))
$(eval $(call variant,build/tsan,$(TSAN)))

UNIT_BINS_ASAN := $(patsubst tests/unit/test_%.c,build/asan/test_%,$(UNIT_SRC))
FUZZ_BINS_ASAN := $(patsubst fuzz/fuzz_%.c,build/asan/fuzz_%,$(wildcard fuzz/fuzz_*.c))

all: build/rel/ringfetchd build/rel/ringfetch
	@ln -sf build/rel/ringfetchd ringfetchd
	@ln -sf build/rel/ringfetch ringfetch

asan: build/asan/ringfetchd build/asan/ringfetch $(UNIT_BINS_ASAN) $(FUZZ_BINS_ASAN)

# Worker rings share tls.c's context and session cache, the log, the
# body store: a data race there is found here, not in production.
tsan-bins: $(patsubst %,build/tsan/test_%,$(TSAN_TESTS))

tsan: tsan-bins
	@for t in $(TSAN_TESTS); do \
		echo "  TSAN    build/tsan/test_$$t"; \
		$(TSAN_ENV) timeout 300 build/tsan/test_$$t || exit 1; \
	done

deps:
	@$(INSTALL_DEPS)

# Install, then build in a new make: this one read the Makefile before the
# packages were there (see the top).
check: walls
	@$(INSTALL_DEPS)
	@$(MAKE) --no-print-directory asan tsan-bins
	@sh tests/run.sh build/asan

check-only: walls asan tsan-bins
	@sh tests/run.sh build/asan

# No include crosses a layer wall (scripts/walls.sh names the layers).
walls:
	@mkdir -p build
	@sh scripts/walls.sh

# tests/integ/test_durability.py at full size: 20,000 jobs and 20 kill -9s
# for the daemon and for batch --resume (make check runs it scaled down).
chaos: asan
	RF_CHAOS=1 RF_BUILD=build/asan RF_TIMES=1 timeout 1800 \
		python3 tests/integ/test_durability.py

demo:
	@$(INSTALL_DEPS)
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh build/rel/ringfetchd

bench: all
	@bash scripts/bench.sh
	@bash scripts/bench-conns.sh

fuzz:
	@bash scripts/fuzz.sh

# Binaries, man pages, unit files and the sysusers.d file under PREFIX
# (systemd reads /usr/local/lib/systemd/system and /usr/local/lib/sysusers.d
# too), the config under SYSCONFDIR. The logrotate snippet is an example
# under DOCDIR, not enabled: the built-in rotation is the default and the
# two must not both run (systemd/ringfetch.logrotate says how to switch).
# Installing into the running system (no DESTDIR) creates the ringfetch
# group at once, as a package's postinst would.
# INSTALL_BUILD picks the build to install (tests: make -o all install).
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/ringfetch
INSTALL_BUILD ?= build/rel
install: all
	install -D -m 0755 $(INSTALL_BUILD)/ringfetchd $(DESTDIR)$(PREFIX)/bin/ringfetchd
	install -D -m 0755 $(INSTALL_BUILD)/ringfetch $(DESTDIR)$(PREFIX)/bin/ringfetch
	for m in $(wildcard man/*.1 man/*.5 man/*.8); do \
		s=$${m##*.}; \
		install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m) || exit 1; \
	done
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/ringfetch/ringfetch.yaml ]; then \
		echo "  keeping $(DESTDIR)$(SYSCONFDIR)/ringfetch/ringfetch.yaml"; \
	else \
		install -D -m 0644 config/ringfetch.yaml $(DESTDIR)$(SYSCONFDIR)/ringfetch/ringfetch.yaml; \
	fi
	sed 's|@BINDIR@|$(PREFIX)/bin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		systemd/ringfetchd.service > build/ringfetchd.service
	install -D -m 0644 build/ringfetchd.service $(DESTDIR)$(UNITDIR)/ringfetchd.service
	install -D -m 0644 systemd/ringfetchd.socket $(DESTDIR)$(UNITDIR)/ringfetchd.socket
	install -D -m 0644 systemd/ringfetch.sysusers $(DESTDIR)$(SYSUSERSDIR)/ringfetch.conf
	install -D -m 0644 systemd/ringfetch.logrotate $(DESTDIR)$(DOCDIR)/examples/logrotate
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/ringfetch.conf; \
	fi

clean:
	rm -rf build ringfetchd ringfetch

.PHONY: all asan tsan tsan-bins deps check check-only walls chaos demo bench fuzz install clean
.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)
