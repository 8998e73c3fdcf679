# ringfetch — one non-recursive Makefile.
#   make            release build in build/rel/
#   make check      install deps, build with ASan+UBSan, run every test
#   make demo       crawl a local demo server and print the summary
#   make install    PREFIX=/usr/local DESTDIR=
#   V=1 for full command lines, WERROR=1 to fail on warnings.

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1)
PREFIX ?= /usr/local
DESTDIR ?=

CC ?= gcc
CFLAGS ?= -O2 -g
WARN := -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wformat=2
ifeq ($(WERROR),1)
WARN += -Werror
endif
LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp
PKGS := liburing wolfssl yaml-0.1 libcares
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -I$(LLHTTP_INC) -iquote daemon -DRF_VERSION='"$(VERSION)"' -D_GNU_SOURCE
ALL_CFLAGS = $(WARN) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS += $(PKG_LIBS) -lm

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Every daemon/*.c except the program entry points is part of the core
# library that the binaries and unit tests link against.
MAINS := daemon/main.c daemon/client.c
CORE_SRC := $(filter-out $(MAINS),$(wildcard daemon/*.c))
LLHTTP_SRC := $(LLHTTP_DIR)/llhttp.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)

define variant
# $(1) = build dir, $(2) = extra flags
$(1)/core/%.o: daemon/%.c
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
$(1)/ringfetchd: $(1)/core/main.o $(1)/libcore.a
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

UNIT_BINS_ASAN := $(patsubst tests/unit/test_%.c,build/asan/test_%,$(UNIT_SRC))
FUZZ_BINS_ASAN := $(patsubst fuzz/fuzz_%.c,build/asan/fuzz_%,$(wildcard fuzz/fuzz_*.c))

all: build/rel/ringfetchd
	@ln -sf build/rel/ringfetchd ringfetchd

asan: build/asan/ringfetchd $(UNIT_BINS_ASAN) $(FUZZ_BINS_ASAN)

deps:
	@sh scripts/install-deps.sh

check: deps
	$(MAKE) asan
	@sh tests/run.sh build/asan

check-only: asan
	@sh tests/run.sh build/asan

demo: deps all
	@sh scripts/demo.sh build/rel/ringfetchd

bench: all
	@bash scripts/bench.sh

install: all
	install -D -m 0755 build/rel/ringfetchd $(DESTDIR)$(PREFIX)/bin/ringfetchd

clean:
	rm -rf build ringfetchd

.PHONY: all asan deps check check-only demo bench install clean
.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)
