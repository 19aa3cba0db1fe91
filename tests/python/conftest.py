"""Shared fixtures of the Python tests (pytest loads this file for every test here)."""
import ctypes
import os

import pytest


@pytest.fixture(scope="module")
def nd_cdll():
    """libneurodyn.so from ND_BUILD_DIR through ctypes; skipped when it is missing, and in sanitizer
    builds (an ASan library cannot be loaded into an uninstrumented python)."""
    build = os.environ.get("ND_BUILD_DIR", "")
    path = os.path.join(build, "libneurodyn.so")
    if not os.path.exists(path):
        pytest.skip("libneurodyn.so not found in ND_BUILD_DIR")
    cache = os.path.join(build, "CMakeCache.txt")
    if os.path.exists(cache) and "ND_SANITIZE:BOOL=ON" in open(cache).read():
        pytest.skip("sanitizer build: libneurodyn.so cannot be loaded into an uninstrumented python")
    return ctypes.CDLL(path)
