# Makefile -- the one entry point of ctihub: build, test, run, bench, fuzz,
# sanitizers.  Non-recursive; every variant builds in its own directory:
#   make                 build/release  (-O2)
#   make SAN=address,undefined   build/san  (ASan+UBSan, -O1)
#   make SAN=thread      build/tsan     (ThreadSanitizer, -O1)
#   make FUZZ=1          build/fuzz     (clang, libFuzzer targets)
# "make check" installs what is missing, builds and runs every test layer;
# "make run" installs what is missing, builds and starts the hub on conf/.

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:
.DEFAULT_GOAL := all

ifdef FUZZ
B	:= build/fuzz
CC	:= clang
OPT	:= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
else ifeq ($(SAN),thread)
B	:= build/tsan
OPT	:= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=thread
else ifdef SAN
B	:= build/san
OPT	:= -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=$(SAN) -fno-sanitize-recover=all
else
B	:= build/release
OPT	:= -O2 -g
SANFLAGS :=
endif

WARN	:= -std=c11 -Wall -Wextra -Werror -Wstrict-prototypes \
	   -Wmissing-prototypes -Wmissing-declarations -Wshadow \
	   -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wvla \
	   -fno-common -fstack-protector-strong
CPPFLAGS := -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -Iinclude -MMD -MP
CFLAGS	:= $(OPT) $(WARN) $(SANFLAGS) -pthread $(EXTRA_CFLAGS)
LDFLAGS	:= $(SANFLAGS) -pthread

PC	= $(shell pkg-config --libs $(1) 2>/dev/null)
LIB_COMMON := $(call PC,openssl jansson libidn2) -llmdb -lm
LIB_HUB	:= $(call PC,libevent libevent_openssl libevent_pthreads libcurl) -lz \
	   $(LIB_COMMON)

ifneq ($(V),1)
Q	:= @
say	= @printf '  %-6s %s\n' $(1) $(2);
else
Q	:=
say	=
endif

COMMON_SRCS := $(sort $(wildcard common/*.c))
FEED_SRCS := $(wildcard feeds/*.c)
CLI_ONLY := hub/ctihub.c $(sort $(wildcard hub/cli_*.c))
CLI_SRCS := $(CLI_ONLY) hub/runtime.c hub/writer.c hub/writer_apply.c \
	    hub/pipeline.c hub/push_state.c hub/feed_run.c hub/fetch.c
HUBD_SRCS := $(filter-out $(CLI_ONLY),$(sort $(wildcard hub/*.c)))
UNIT_SRCS := $(sort $(wildcard tests/unit/t_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRCS := $(sort $(wildcard tests/bench/bench_*.c))
LOAD_SRCS := $(sort $(wildcard tests/load/load_*.c))

LIB	:= $(B)/libctihub.a
CTIHUBD	:= $(B)/ctihubd
CTIHUB	:= $(B)/ctihub
UNITS	:= $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
FUZZERS	:= $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/tests/%)
INTEG	:= $(B)/tests/integ_client
LOAD	:= $(B)/tests/load_client
BENCHES	:= $(BENCH_SRCS:tests/bench/%.c=$(B)/tests/%)
LOADS	:= $(LOAD_SRCS:tests/load/%.c=$(B)/tests/%)
PUSH_RX	:= $(B)/tests/push_rx
FEED_TAXII_CLIENT := $(B)/tests/feed_taxii_client
MISP_FEED_CLIENT := $(B)/tests/misp_feed_client

obj	= $(patsubst %.c,$(B)/%.o,$(1))

all: $(LIB) $(CTIHUBD) $(CTIHUB)
tests: all $(UNITS) $(FUZZERS) $(INTEG) $(LOAD) $(LOADS) $(PUSH_RX) \
    $(FEED_TAXII_CLIENT) $(MISP_FEED_CLIENT)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(call obj,$(COMMON_SRCS) $(FEED_SRCS))
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(CTIHUBD): $(call obj,$(HUBD_SRCS)) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

$(CTIHUB): $(call obj,$(CLI_SRCS)) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

$(B)/tests/t_%: $(B)/tests/unit/t_%.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIB_HUB)

# unit tests of hub/ modules link the hub objects they test
HUB_UNITS := $(B)/tests/t_pipeline $(B)/tests/t_writer
HUB_UNIT_OBJS := $(call obj,hub/pipeline.c hub/writer.c hub/writer_apply.c)
$(HUB_UNITS): $(B)/tests/t_%: $(B)/tests/unit/t_%.o $(HUB_UNIT_OBJS) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIB_HUB)

# the outbound loop's test links hub/fetch.c and runs its own HTTPS server
$(B)/tests/t_fetch: $(B)/tests/unit/t_fetch.o $(call obj,hub/fetch.c) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIB_HUB)

# push's state records (hub/push_state.c) and its receivers' answers
$(B)/tests/t_push: $(B)/tests/unit/t_push.o $(call obj,hub/push_state.c) \
    $(HUB_UNIT_OBJS) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIB_HUB)

# the operations handlers, against stubs of the transport
$(B)/tests/t_ops: $(B)/tests/unit/t_ops.o $(call obj,hub/ops.c) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIB_HUB)

# the route table's dispatch, against a table and stubs of its own
$(B)/tests/t_route: $(B)/tests/unit/t_route.o $(call obj,hub/route.c) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIB_HUB)

ifdef FUZZ
$(B)/tests/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIB_HUB)
else
$(B)/tests/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/standalone.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)
endif

INTEG_SRCS := $(filter-out tests/integ/feed_taxii_client.c \
    tests/integ/misp_feed_client.c,\
    $(sort $(wildcard tests/integ/*.c)))
$(INTEG): $(call obj,$(INTEG_SRCS)) $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

# the upstream TAXII feed's integration client (tests/integ/feed_taxii.sh)
$(FEED_TAXII_CLIENT): $(B)/tests/integ/feed_taxii_client.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

# the MISP feed export's integration client (tests/integ/misp_export.sh)
$(MISP_FEED_CLIENT): $(B)/tests/integ/misp_feed_client.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

$(LOAD): $(B)/tests/load/load.o $(B)/tests/bench/bench.o
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

$(B)/tests/bench_%: $(B)/tests/bench/bench_%.o $(B)/tests/bench/bench.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

# the push benchmark's receiver (webhook, TAXII, SSE client)
$(PUSH_RX): $(B)/tests/bench/push_rx.o $(B)/tests/bench/bench.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

$(B)/tests/load_%: $(B)/tests/load/load_%.o $(B)/tests/bench/bench.o $(LIB)
	$(call say,LINK,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LIB_HUB)

# Debian packages the build, the tests and the benchmarks need.  Installed
# only when missing, with apt-get (as root, or through sudo).
# libidn2-dev: IDNA A-labels of domain names (common/observable_norm.c).
# python3-cryptography: Ed25519 in the push tests' webhook receiver
# (tests/integ/push_rx.py).  promtool
# (tests/promcheck.sh checks /metrics with it) comes from Debian's
# prometheus package, unpacked into build/deps rather than installed: an
# installed one would start a Prometheus server, which the tests do not
# want.  A promtool already on the PATH is used instead.
DEB_PKGS := gcc make pkg-config libevent-dev libjansson-dev liblmdb-dev \
	    libssl-dev libcurl4-openssl-dev libcmocka-dev libidn2-dev openssl \
	    curl python3 python3-cryptography clang-format wrk lmdb-utils procps \
	    zlib1g-dev
PROMTOOL_DIR := build/deps/prometheus
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    s=; [ "$$(id -u)" = 0 ] || s=sudo; \
	    $$s env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        $$missing || { $$s apt-get update -q && \
	        $$s env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        $$missing; }; \
	fi
	@command -v promtool >/dev/null 2>&1 || \
	    [ -x $(PROMTOOL_DIR)/root/usr/bin/promtool ] || { \
	    echo "fetching promtool: Debian's prometheus package, unpacked"; \
	    rm -rf $(PROMTOOL_DIR) && mkdir -p $(PROMTOOL_DIR) && \
	    cd $(PROMTOOL_DIR) && s= && { [ "$$(id -u)" = 0 ] || s=sudo; } && \
	    { apt-get download prometheus || { $$s apt-get update -q && \
	      apt-get download prometheus; }; } && \
	    dpkg-deb -x prometheus_*.deb root && rm -f prometheus_*.deb; }

run: deps
	$(MAKE) all
	$(CTIHUBD) -c conf/ctihub.conf -d

check: deps
	$(MAKE) tests
	tests/run.sh $(B)

check-san: deps
	$(MAKE) SAN=address,undefined tests
	tests/run.sh build/san

# ThreadSanitizer: every layer, the daemon's threads under load included
# (a report from the daemon fails the integration run).  No suppressions:
# the one report from inside OpenSSL (a certificate's extensions decoded
# lazily, behind a flag read without a lock that TSan cannot see in the
# uninstrumented library) is avoided by decoding the CA certificates
# before the workers share them (runtime.c).
check-tsan: deps
	$(MAKE) SAN=thread tests
	tests/run.sh build/tsan

fuzz:
	$(MAKE) FUZZ=1 $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/tests/%)
	@echo "run e.g.: build/fuzz/tests/fuzz_pattern tests/fuzz/corpus/pattern"

bench: deps
	$(MAKE) all $(BENCHES) $(PUSH_RX)
	tests/bench/run.sh $(B)

format:
	clang-format -i $(COMMON_SRCS) $(wildcard common/*.h) $(HUBD_SRCS) \
	    $(FEED_SRCS) $(wildcard feeds/*.h) \
	    $(CLI_ONLY) include/ctihub/*.h hub/*.h $(UNIT_SRCS) $(FUZZ_SRCS) \
	    $(BENCH_SRCS) tests/bench/push_rx.c tests/integ/*.c tests/load/*.c

check-format:
	tests/check-format.sh

clean:
	rm -rf build

.PHONY: all tests deps run check check-san check-tsan fuzz bench format \
	check-format clean

-include $(shell find $(B) -name '*.d' 2>/dev/null)
