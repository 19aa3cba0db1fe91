"""Builds neurodyn._core, the CPython extension over libneurodyn.

The static library (libneurodyn.a, with its private copy of BLIS) is linked
INTO the extension, so the installed package needs no libneurodyn.so at run
time: no RPATH to a build directory, no LD_LIBRARY_PATH, and a --target or
virtual-environment install works wherever it is copied.  The libraries it
needs besides (OpenBLAS, cJSON, libpng, zlib, nettle, libgomp) are Debian's
shared ones, taken from the neurodyn.pc the CMake build writes.

Where the library comes from:
  $NEURODYN_BUILD_DIR  a CMake build directory holding libneurodyn.a (make test sets it);
  else <repository>/build/release (`make build`), built here with CMake first if absent.
"""
import os
import shlex
import subprocess
import sys

import numpy
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build_dir():
    d = os.environ.get("NEURODYN_BUILD_DIR")
    if d:
        return os.path.abspath(d)
    d = os.path.join(ROOT, "build", "release")
    if not os.path.exists(os.path.join(d, "libneurodyn.a")):
        print("neurodyn: building the C library in %s" % d, file=sys.stderr)
        subprocess.check_call(["cmake", "-S", ROOT, "-B", d, "-DCMAKE_BUILD_TYPE=Release"])
        subprocess.check_call(["cmake", "--build", d, "--target", "neurodyn_static", "-j", str(os.cpu_count() or 2)])
    return d


def private_libs(bdir):
    """Libs.private and the pkg-config libraries of Requires.private, from the build's neurodyn.pc."""
    libs, requires = [], []
    with open(os.path.join(bdir, "neurodyn.pc")) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "Libs.private":
                libs = shlex.split(value)
            elif key == "Requires.private":
                requires = value.split()
    if requires:
        libs += shlex.split(subprocess.check_output(["pkg-config", "--libs"] + requires, text=True))
    return libs


BUILD = build_dir()
LIB = os.path.join(BUILD, "libneurodyn.a")
if not os.path.exists(LIB):
    sys.exit("neurodyn: %s is missing: run `make build` in the repository first" % LIB)
SOURCES = sorted(os.path.join("src", f) for f in os.listdir(os.path.join(HERE, "src")) if f.endswith(".c"))

core = Extension(
    "neurodyn._core",
    sources=SOURCES,
    include_dirs=[os.path.join(ROOT, "include"), numpy.get_include()],
    depends=[os.path.join("src", "nd_py.h"), LIB],
    extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-fopenmp", "-fvisibility=hidden"],
    # --exclude-libs: the archives' symbols (neurodyn's, BLIS's) stay inside
    # the extension; only PyInit__core is exported.
    extra_link_args=[LIB] + private_libs(BUILD) + ["-fopenmp", "-Wl,--exclude-libs,ALL"],
)

setup(packages=["neurodyn"], ext_modules=[core])
