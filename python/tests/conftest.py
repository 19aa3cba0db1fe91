"""Shared helpers of the package tests: synthetic MNIST-format data written
byte by byte (the IDX layout of LeCun et al.'s MNIST page, independent of the
library's writer), and the C program's path."""
import os
import struct

import numpy as np
import pytest


def write_idx_bytes(path, array):
    """IDX by hand: 00 00 <type> <ndim>, big-endian uint32 sizes, data."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    a = np.ascontiguousarray(array)
    header = bytes([0, 0, codes[a.dtype], a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape)
    with open(path, "wb") as f:
        f.write(header + a.astype(a.dtype.newbyteorder(">")).tobytes())


def fake_mnist(root, n_train=600, n_test=100, seed=0):
    """root/mnist/ with MNIST's four file names: blobs of ten prototypes."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((10, 28, 28)) > 0.8).astype(np.float64)
    d = os.path.join(root, "mnist")
    os.makedirs(d, exist_ok=True)
    out = {}
    for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        imgs = np.clip(protos[labels] * 200 + rng.normal(0, 30, (n, 28, 28)), 0, 255).astype(np.uint8)
        write_idx_bytes(os.path.join(d, stem + "-images-idx3-ubyte"), imgs)
        write_idx_bytes(os.path.join(d, stem + "-labels-idx1-ubyte"), labels)
        out[split] = (imgs.reshape(n, 784).astype(np.float32) / np.float32(255), labels.astype(np.int32))
    return out


@pytest.fixture
def mnist_root(tmp_path):
    return str(tmp_path), fake_mnist(str(tmp_path))


@pytest.fixture
def cli():
    path = os.environ.get("ND_CLI")
    if not path or not os.path.exists(path):
        pytest.skip("ND_CLI (the neurodyn program) is not set: run through ctest")
    return path


def blobs(n, d, seed=0):
    """float32 data in [0, 1] with structure (a few prototypes plus noise)."""
    rng = np.random.default_rng(seed)
    protos = rng.random((5, d))
    return np.clip(protos[rng.integers(0, 5, n)] + rng.normal(0, 0.1, (n, d)), 0, 1).astype(np.float32)
