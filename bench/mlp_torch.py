"""One epoch of a 784-1000-1000-10 ReLU MLP trained by back-propagation in
PyTorch on the CPU (the peer of `neurodyn train mlp --method bp`, same
network, cross-entropy, Adam lr 1e-3, minibatch 100, shuffled): prints the
wall time of the epoch (data loading excluded) and the test error.

    python3 bench/mlp_torch.py DATA_DIR/mnist THREADS [LIMIT]
"""
import struct
import sys
import time

import numpy as np
import torch


def idx(path):
    b = open(path, "rb").read()
    nd = b[3]
    dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    root, threads = sys.argv[1], int(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 60000
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.tensor(idx(f"{root}/train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    y = torch.tensor(idx(f"{root}/train-labels-idx1-ubyte").astype(np.int64))
    x, y = x[:limit], y[:limit]
    xt = torch.tensor(idx(f"{root}/t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
    yt = torch.tensor(idx(f"{root}/t10k-labels-idx1-ubyte").astype(np.int64))
    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000),
                              torch.nn.ReLU(), torch.nn.Linear(1000, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    t0 = time.perf_counter()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), 100):
        b = perm[i:i + 100]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[b]), y[b]).backward()
        opt.step()
    sec = time.perf_counter() - t0
    with torch.no_grad():
        err = (net(xt).argmax(1) != yt).float().mean().item()
    print(f"torch threads {threads}: epoch {sec:.2f} s ({len(x)} images), test error {100 * err:.2f}%")


if __name__ == "__main__":
    main()
