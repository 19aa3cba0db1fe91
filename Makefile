# Thin wrapper over CMake.  `make test` and `make demo` install what is
# missing (scripts/deps.sh), build, and do their job.
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
RELEASE := build/release
ASAN := build/asan
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 30
CTEST_FLAGS ?= --output-on-failure

.PHONY: all deps data build asan test test-release test-asan demo bench install fuzz install-check clean

all: build

deps:
	@bash scripts/deps.sh

data: deps
	@bash scripts/get-data.sh

$(RELEASE)/CMakeCache.txt:
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps $(RELEASE)/CMakeCache.txt
	cmake --build $(RELEASE) -j $(JOBS)

$(ASAN)/CMakeCache.txt:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DND_SANITIZE=ON -DND_INTEGRATION_TESTS=OFF

asan: deps $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j $(JOBS)

# The real-data integration tests run in the Release build only.
test-release: build data
	cd $(RELEASE) && ctest $(CTEST_FLAGS) -j $(JOBS)

test-asan: asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 ctest $(CTEST_FLAGS) -j $(JOBS)

test: test-asan test-release

demo: build data
	$(RELEASE)/neurodyn demo

bench: build
	@bash bench/run.sh $(RELEASE)

install: build
	cmake --install $(RELEASE) --prefix $(PREFIX)

# Installs into a scratch prefix and compiles examples/*.c through pkg-config.
install-check: build
	@bash scripts/install-check.sh $(RELEASE)

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DND_SANITIZE=ON -DND_FUZZ=ON -DBUILD_TESTING=OFF

fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@bash scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf build
