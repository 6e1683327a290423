# memtrace - a plain GNU Makefile.
#   make            build memtraced, memtracectl and the test targets
#   make check      run every test (unit, integration)
#   make demo       install missing build deps, build, run the leaking demo
#   make bench      speed table against untraced runs and strace
#   make fuzz       run each libFuzzer target in fuzz/ for FUZZ_SECONDS (60)
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        the Debian package, in build/deb (installs debhelper as root)
# Knobs: V=1 (verbose), WERROR=1, SANITIZE=address,undefined, CC, CPPFLAGS,
# CFLAGS, LDFLAGS.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
VERSION := 0.1.0

CC ?= cc
CFLAGS ?= -O2 -g
PKGS := libunwind-ptrace libelf jansson libseccomp libsystemd zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libstdc++ only for __cxa_demangle (C++ frame names).
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lstdc++
# memtracectl reads the protocol's schema, not the tracer: JSON only.
CLI_LIBS := $(shell pkg-config --libs jansson 2>/dev/null) -lm
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -std=gnu11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
ALL_CFLAGS := $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -D_GNU_SOURCE -DMT_VERSION=\"$(VERSION)\" \
	-Ilibtrace $(PKG_CFLAGS)
ALL_LDFLAGS := $(LDFLAGS) -pthread -lm
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

# Sanitizer builds live in their own tree so they never mix with normal objects.
O := build$(if $(SANITIZE),-san)
ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC := $(wildcard libtrace/*.c)
DAEMON_SRC := $(wildcard daemon/*.c)
CLI_SRC := $(wildcard cli/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
TARGET_SRC := $(wildcard tests/targets/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(O)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(O)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(O)/%.o)
TARGETS := $(TARGET_SRC:tests/targets/%.c=$(O)/targets/%)

MEMTRACED := $(O)/memtraced
MEMTRACECTL := $(O)/memtracectl
UNIT := $(O)/unit-tests

.PHONY: all check unit integration demo bench deps deb fuzz fuzz-build install uninstall clean

all: $(MEMTRACED) $(MEMTRACECTL) $(TARGETS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/libtrace.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)$(AR) rcs $@ $^

$(MEMTRACED): $(DAEMON_OBJ) $(O)/libtrace.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(MEMTRACECTL): $(CLI_OBJ) $(O)/libtrace.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(CLI_LIBS)

$(UNIT): $(UNIT_OBJ) $(O)/libtrace.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS)

$(O)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

# Test targets are the traced programs; they are built without sanitizers so
# they behave like ordinary programs (ASan reserves terabytes of shadow).
$(O)/targets/%: tests/targets/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -O1 -g -fno-omit-frame-pointer -std=gnu11 -Wall -D_GNU_SOURCE -o $@ $< -pthread -ldl

# These first install what is missing, then build in a new make: the
# pkg-config flags above were read before the packages were there.
check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT)
	$(Q)MT_BUILD=$(O) tests/run-tests $(UNIT)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MT_BUILD=$(O) scripts/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MT_BUILD=$(O) bench/run-bench

# dpkg-buildpackage in a clean copy of the tree, then lintian; see scripts/build-deb.
deb:
	$(Q)scripts/install-deps --deb
	$(Q)scripts/build-deb build/deb

# Install what pkg-config cannot find (Debian package names); root only.
deps:
	$(Q)scripts/install-deps

# libFuzzer targets, one per parser of outside input (fuzz/NAME-fuzzer.c,
# seeds in fuzz/corpus/NAME), built with clang under ASan and UBSan in
# their own tree.  make fuzz runs each for FUZZ_SECONDS; a crash stops it
# and leaves the input in build-fuzz/.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FO := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g $(FUZZ_SAN) $(WARN) -Wno-missing-field-initializers -Wno-format-nonliteral -D_GNU_SOURCE -DMT_VERSION=\"$(VERSION)\" \
	-Ilibtrace -Idaemon $(PKG_CFLAGS)
FUZZ_SRC := $(wildcard fuzz/*-fuzzer.c)
FUZZERS := $(FUZZ_SRC:fuzz/%.c=$(FO)/%)
# Everything a fuzzer may call: libtrace and the daemon's option parser.
FUZZ_OBJ := $(LIB_SRC:%.c=$(FO)/%.o) $(FO)/daemon/options.o $(FO)/daemon/log.o

$(FO)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link -c -o $@ $<

.PRECIOUS: $(FO)/fuzz/%-fuzzer.o
.SECONDARY: $(FUZZ_OBJ)
$(FO)/%-fuzzer: $(FO)/fuzz/%-fuzzer.o $(FUZZ_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -pthread -lm $(PKG_LIBS)

# answer includes memtracectl.c; the other CLI files hold commands of its table.
$(FO)/answer-fuzzer: $(filter-out $(FO)/cli/memtracectl.o,$(CLI_SRC:%.c=$(FO)/%.o))

fuzz-build:
	$(Q)scripts/install-deps --fuzz
	$(Q)$(MAKE) --no-print-directory $(FUZZERS)

fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run-fuzz $(FUZZERS)

# Installed files; uninstall removes exactly these.  The memtraced
# completion is a link to memtracectl's file, which completes both.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: $(MEMTRACED) $(MEMTRACECTL)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR)
	install -m 755 $(MEMTRACED) $(DESTDIR)$(SBINDIR)/memtraced
	install -m 755 $(MEMTRACECTL) $(DESTDIR)$(BINDIR)/memtracectl
	install -m 644 man/memtraced.8 $(DESTDIR)$(MANDIR)/man8/memtraced.8
	install -m 644 man/memtracectl.1 $(DESTDIR)$(MANDIR)/man1/memtracectl.1
	install -m 644 man/memtraced.conf.5 $(DESTDIR)$(MANDIR)/man5/memtraced.conf.5
	install -m 644 man/memtrace-protocol.7 $(DESTDIR)$(MANDIR)/man7/memtrace-protocol.7
	sed 's|/usr/sbin/memtraced|$(SBINDIR)/memtraced|' systemd/memtraced@.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/memtraced@.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/memtraced@.service
	install -m 644 cli/memtracectl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/memtracectl
	ln -sf memtracectl $(DESTDIR)$(BASHCOMPDIR)/memtraced

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/memtraced $(DESTDIR)$(BINDIR)/memtracectl \
		$(DESTDIR)$(MANDIR)/man8/memtraced.8 $(DESTDIR)$(MANDIR)/man1/memtracectl.1 \
		$(DESTDIR)$(MANDIR)/man5/memtraced.conf.5 \
		$(DESTDIR)$(MANDIR)/man7/memtrace-protocol.7 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/memtraced@.service \
		$(DESTDIR)$(BASHCOMPDIR)/memtracectl $(DESTDIR)$(BASHCOMPDIR)/memtraced

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san build-fuzz -name '*.d' 2>/dev/null)
