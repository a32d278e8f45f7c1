# torii: the two commands a newcomer needs are `make run` and `make test`.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_TARGETS ?= fuzz_sse fuzz_chat_request fuzz_eventstream fuzz_provider_decoders fuzz_inbound fuzz_scanner
JOBS       ?= 2
CONFIG     ?=
CMAKE_FLAGS = -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
TORII       = $(BUILD)/torii

export CCACHE_DIR ?= $(HOME)/.cache/ccache
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: setup build run test test-unit test-integration test-clients test-conformance test-sanitize fuzz bench bench-smoke clean

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Release

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Starts torii on 127.0.0.1:8080 with the embedded demo config (built-in mock model, demo key).
# Builds the torii binary only, not the tests and bench tools.
run: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target torii
	$(TORII) serve $(if $(CONFIG),--config $(CONFIG),)

test: build
	$(MAKE) --no-print-directory test-unit test-integration test-clients test-conformance fuzz

test-unit:
	$(BUILD)/torii_unit_tests --gtest_brief=1

test-integration:
	TORII_BIN=$(abspath $(TORII)) node --test --test-concurrency=1 tests/integration/

test-clients:
	TORII_BIN=$(abspath $(TORII)) node --test --test-concurrency=1 tests/clients/

# The provider conformance suite: every adapter x every case through the gateway and `torii mock`.
test-conformance:
	TORII_BIN=$(abspath $(TORII)) node --test --test-concurrency=1 tests/conformance/

# Unit and integration tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: setup
	cmake -S . -B $(BUILD_ASAN) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DTORII_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS) --target torii torii_unit_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(BUILD_ASAN)/torii_unit_tests --gtest_brief=1
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  TORII_BIN=$(abspath $(BUILD_ASAN)/torii) TORII_SLOW=1 node --test --test-concurrency=1 tests/integration/

# libFuzzer targets (clang) for the SSE parser, the request decoder, the event-stream framing,
# the providers' answer decoders, the inbound APIs and the guardrail scanner; FUZZ_SECONDS each
# (FUZZ_SECONDS_CODECS for fuzz_provider_decoders and fuzz_inbound, which share the build budget
# with the providers they compile).
FUZZ_SECONDS ?= 20
FUZZ_SECONDS_CODECS ?= 15
fuzz: setup
	cmake -S . -B $(BUILD_FUZZ) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTORII_FUZZ=ON \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
	  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD_FUZZ)/corpus/$$t; \
	  secs=$(FUZZ_SECONDS); \
	  case $$t in fuzz_provider_decoders|fuzz_inbound) secs=$(FUZZ_SECONDS_CODECS);; esac; \
	  echo "fuzz: $$t for $${secs}s"; \
	  $(BUILD_FUZZ)/$$t -max_total_time=$$secs -max_len=4096 \
	    $(BUILD_FUZZ)/corpus/$$t tests/fuzz/seeds/$$t 2>$(BUILD_FUZZ)/$$t.log \
	    || { tail -50 $(BUILD_FUZZ)/$$t.log; exit 1; }; \
	  tail -1 $(BUILD_FUZZ)/$$t.log; \
	done

bench: build
	bench/run.sh

bench-smoke: build
	BENCH_SMOKE=1 bench/run.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
