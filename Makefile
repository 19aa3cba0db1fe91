# Thin wrapper over CMake.  `make deps`, `make test` and `make demo` install
# what is missing (scripts/deps.sh, apt-get); `make build` never does.
# NATIVE=1 compiles for this machine's CPU (-march=native; the result may not
# run on other x86-64 machines); the default build runs on any x86-64.
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
RELEASE := build/release
ASAN := build/asan
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 30
CTEST_FLAGS ?= --output-on-failure
NATIVE ?= 0
ifeq ($(NATIVE),1)
ND_NATIVE_FLAG := -DND_NATIVE=ON
else
ND_NATIVE_FLAG := -DND_NATIVE=OFF
endif

.PHONY: all deps data configure-release build asan test test-release test-asan demo bench install fuzz install-check clean

all: build

deps:
	@bash scripts/deps.sh

data: deps
	@bash scripts/get-data.sh

# Configured on every `make build` (cheap), so NATIVE= and PREFIX= take effect.
configure-release:
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(ND_NATIVE_FLAG) >/dev/null

build: configure-release
	cmake --build $(RELEASE) -j $(JOBS)

# The ASan build is also the build without MPI (-DND_MPI=OFF): `make test`
# runs every test in both configurations; the Release build uses MPI when
# CMake finds it (ND_MPI=AUTO) and runs the mpirun tests (tests/cli/test_mpi.sh).
# (Configured on every `make asan`, so that an older build/asan gets ND_MPI=OFF too.)
asan:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DND_SANITIZE=ON -DND_INTEGRATION_TESTS=OFF -DND_MPI=OFF >/dev/null
	cmake --build $(ASAN) -j $(JOBS)

# The real-data integration tests run in the Release build only.
test-release: deps build data
	cd $(RELEASE) && ctest $(CTEST_FLAGS) -j $(JOBS)

test-asan: deps asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 ctest $(CTEST_FLAGS) -j $(JOBS)

test: test-asan test-release

demo: deps build data
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
