#!/usr/bin/env bash
# install-check.sh BUILD_DIR: prove that an installed neurodyn can be used.
#   1. cmake --install BUILD_DIR into a fresh temporary prefix; the installed
#      library exports only nd_* symbols and carries no path of the source or
#      build tree;
#   2. compile every examples/*.c against it through pkg-config (with
#      -Wl,-rpath,$(pkg-config --variable=libdir neurodyn), as docs/install.md
#      tells users to) and run it;
#   3. configure a tiny CMake project that does find_package(neurodyn) and links
#      neurodyn::neurodyn, build every example with it and run examples/hello.c;
#   4. run the installed `neurodyn --version` when the program was built.
# Every program runs with LD_LIBRARY_PATH unset: it must find the installed
# library through its RPATH ($ORIGIN/../lib for the installed program).
# Nothing is written outside the temporary directory, which is removed at exit.
# Exits non-zero with a message naming the step that failed.
set -euo pipefail
unset LD_LIBRARY_PATH

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
SRC="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$(cd "$1" && pwd)" || { echo "install-check: no build directory '$1'" >&2; exit 2; }
[ -f "$BUILD/CMakeCache.txt" ] || { echo "install-check: $BUILD is not a CMake build directory" >&2; exit 2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/neurodyn-install-check.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
P="$TMP/prefix"
CC="${CC:-cc}"
fail() {
  echo "install-check: $*" >&2
  exit 1
}

echo "install-check: installing $BUILD into $P"
cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "cmake --install failed"; }

# GNUInstallDirs picks lib/ or lib/<multiarch>/ depending on the prefix given
# at configure time; find whichever holds the pkg-config file.
PCFILE="$(find "$P" -name neurodyn.pc -path '*/pkgconfig/*' | head -n 1)"
[ -n "$PCFILE" ] || fail "no neurodyn.pc under $P"
PCDIR="$(dirname "$PCFILE")"
LIBDIR="$(dirname "$PCDIR")"
[ -e "$LIBDIR/libneurodyn.so" ] || fail "no libneurodyn.so in $LIBDIR"
[ -f "$P/include/neurodyn/neurodyn.h" ] || fail "no include/neurodyn/neurodyn.h under $P"

# Exported symbols: only the public nd_* API (include/neurodyn/*.h, ND_API).
SO="$(readlink -f "$LIBDIR/libneurodyn.so")"
bad="$(nm -D --defined-only "$SO" | awk '$2 ~ /^[A-Za-z]$/ && $3 !~ /^nd_/ {print $3}' | head -n 20)"
[ -z "$bad" ] || fail "installed $SO exports symbols outside nd_*: $bad"
nm -D --defined-only "$SO" | grep ' T nd_version' >/dev/null || fail "installed $SO does not export nd_version"
# No path of the source or build tree in the installed files.
for f in "$SO" "$P/bin/neurodyn"; do
  [ -f "$f" ] || continue
  for d in "$SRC" "$BUILD"; do
    if strings "$f" | grep -F "$d" >/dev/null; then
      hits="$(strings "$f" | grep -F "$d" | sort -u | head -n 3 | tr '\n' ' ')"
      fail "installed $f contains the path $d: $hits"
    fi
  done
done

CFLAGS_LIBS="$(PKG_CONFIG_PATH="$PCDIR" pkg-config --cflags --libs neurodyn)" || fail "pkg-config cannot read $PCFILE"
PC_LIBDIR="$(PKG_CONFIG_PATH="$PCDIR" pkg-config --variable=libdir neurodyn)"
[ "$(cd "$PC_LIBDIR" && pwd -P)" = "$(cd "$LIBDIR" && pwd -P)" ] || fail "pkg-config libdir $PC_LIBDIR is not $LIBDIR"
case "$CFLAGS_LIBS" in
  *"$P"*) ;;
  *) fail "pkg-config flags do not point into the install prefix: $CFLAGS_LIBS" ;;
esac
echo "install-check: pkg-config: $CFLAGS_LIBS"

shopt -s nullglob
EXAMPLES=("$SRC"/examples/*.c)
[ ${#EXAMPLES[@]} -gt 0 ] || fail "no examples/*.c"

# Run from the source tree so examples that read data/ find it, with no
# LD_LIBRARY_PATH: the program finds the installed library by its RPATH.
run_example() { # run_example BINARY NAME
  local rc=0
  (cd "$SRC" && env -u LD_LIBRARY_PATH ND_NUM_THREADS="${ND_NUM_THREADS:-2}" timeout 600 "$1") \
    >"$TMP/$2.out" 2>&1 || rc=$?
  if grep -q 'error while loading shared libraries' "$TMP/$2.out"; then
    cat "$TMP/$2.out" >&2
    fail "example $2 cannot start without LD_LIBRARY_PATH"
  fi
  if [ "$rc" -eq 77 ]; then # the example needs a data set that is not fetched
    echo "install-check: example $2 skipped: $(tail -n 1 "$TMP/$2.out")"
    return 0
  fi
  if [ "$rc" -ne 0 ]; then
    cat "$TMP/$2.out" >&2
    fail "example $2 failed (exit $rc)"
  fi
}

mkdir -p "$TMP/pc"
for src in "${EXAMPLES[@]}"; do
  name="$(basename "$src" .c)"
  # shellcheck disable=SC2086  # word splitting of the flags is intended
  "$CC" -std=c11 -Wall -Wextra -Werror -O2 "$src" -o "$TMP/pc/$name" $CFLAGS_LIBS -Wl,-rpath,"$PC_LIBDIR" -lm \
    || fail "example $name does not compile against the installed headers/library"
  if env -u LD_LIBRARY_PATH ldd "$TMP/pc/$name" 2>/dev/null | grep "libneurodyn.so.* => $BUILD" >/dev/null; then
    fail "example $name resolved libneurodyn from the build tree"
  fi
  run_example "$TMP/pc/$name" "$name"
  echo "install-check: pkg-config example $name: ok"
done

# CMake package: find_package(neurodyn) + neurodyn::neurodyn.
mkdir -p "$TMP/cmake-project"
cat >"$TMP/cmake-project/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(neurodyn_consumer LANGUAGES C)
find_package(neurodyn 0.1 REQUIRED)
foreach(src IN ITEMS $(printf '"%s" ' "${EXAMPLES[@]}"))
  get_filename_component(name \${src} NAME_WE)
  add_executable(\${name} \${src})
  target_link_libraries(\${name} PRIVATE neurodyn::neurodyn m)
endforeach()
add_executable(hello_static "$SRC/examples/hello.c")
target_link_libraries(hello_static PRIVATE neurodyn::neurodyn_static m)
CMAKE
cmake -S "$TMP/cmake-project" -B "$TMP/cmake-build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release \
  >"$TMP/cmake-configure.log" 2>&1 || { cat "$TMP/cmake-configure.log" >&2; fail "find_package(neurodyn) failed"; }
cmake --build "$TMP/cmake-build" -j "${JOBS:-2}" >"$TMP/cmake-build.log" 2>&1 \
  || { cat "$TMP/cmake-build.log" >&2; fail "building against neurodyn::neurodyn failed"; }
run_example "$TMP/cmake-build/hello" hello-cmake
run_example "$TMP/cmake-build/hello_static" hello-static
echo "install-check: CMake package (neurodyn::neurodyn, neurodyn::neurodyn_static): ok"

if [ -x "$P/bin/neurodyn" ]; then
  v="$(env -u LD_LIBRARY_PATH "$P/bin/neurodyn" --version 2>&1)" || fail "installed neurodyn --version failed: $v"
  # Linked to the shared library: it must resolve to the installed one, through the
  # program's RPATH ($ORIGIN/../lib), not to the build tree.
  got="$(env -u LD_LIBRARY_PATH ldd "$P/bin/neurodyn" | awk '/libneurodyn\.so/ {print $3}')"
  if [ -n "$got" ]; then
    [ "$(readlink -f "$got")" = "$(readlink -f "$SO")" ] \
      || fail "installed neurodyn resolves libneurodyn to $got, not the installed $SO"
  fi
  [ -f "$P/share/neurodyn/get-data.sh" ] || fail "no share/neurodyn/get-data.sh for neurodyn data fetch"
  echo "install-check: installed program: $v"
fi
echo "install-check: passed"
