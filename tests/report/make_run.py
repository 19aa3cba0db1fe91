#!/usr/bin/python3
"""Writes a run directory for the report tests, independent of neurodyn's
writers: config.json, metrics.jsonl, a PNG, and record/ in the record format
(docs/record.md) with one stream of each kind (grid3d with positions, map2d,
raster as uint8, image per epoch, vector), chunked.

usage: make_run.py DIR [--epochs N] [--seed S]
Prints nothing; the values follow from the arguments (the tests recompute
them)."""
import argparse, json, os, struct, zlib

import numpy as np


def write_npy(path, a):
    # NPY 1.0 by hand: the reader under test must not share code with the writer
    a = np.ascontiguousarray(a)
    descr = {np.dtype('<f4'): '<f4', np.dtype('uint8'): '|u1'}[a.dtype]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ''.join('%d, ' % s for s in a.shape) if a.ndim != 1 else '%d,' % a.shape[0])
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + ' ' * pad + '\n'
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(header)) + header.encode('latin1'))
        f.write(a.tobytes())
    os.replace(tmp, path)


def write_png(path, img):
    h, w = img.shape
    raw = b''.join(b'\x00' + bytes(row) for row in img.astype(np.uint8))
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) +
                chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def streams(rng):
    """name, kind, frames array [T, ...], extra index fields"""
    gx, gy, gz = 4, 4, 3
    pos = np.array([[x, y, z] for z in range(gz) for y in range(gy) for x in range(gx)], np.float32)
    T = 70
    t = np.arange(T, dtype=np.float32)[:, None]
    grid = np.sin(0.3 * t - 1.5 * pos[None, :, 2]) * np.exp(-0.1 * pos[None, :, 0])  # a wave along z
    maps = np.stack([np.sin(0.4 * k + np.add.outer(np.arange(8), np.arange(8)) / 3.0)[None].repeat(2, 0) *
                     np.array([1, -1])[:, None, None] for k in range(20)]).astype(np.float32)
    grid = grid.astype(np.float32)
    spikes = (rng.random((100, 50)) < 0.08).astype(np.uint8)
    fields = rng.standard_normal((5, 4, 6, 6)).astype(np.float32) * (1 + np.arange(5))[:, None, None, None]
    codes = np.maximum(0, rng.standard_normal((40, 30))).astype(np.float32)
    spikes = spikes.astype(np.uint8)
    return [
        ('grid', 'grid3d', grid.astype(np.float32), {'positions': 'grid_positions.npy', 'time_unit': 'step',
                                                    'labels': {'model': 'synthetic', 'grid': [gx, gy, gz]}}, pos),
        ('maps', 'map2d', maps, {'time_unit': 'ms', 'dt': 0.5}, None),
        ('spikes', 'raster', spikes, {'time_unit': 'ms', 'dt': 1.0}, None),
        ('fields', 'image', fields, {'time_unit': 'epoch'}, None),
        ('codes', 'vector', codes, {}, None),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--chunk', type=int, default=64)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(os.path.join(a.dir, 'record'), exist_ok=True)
    with open(os.path.join(a.dir, 'config.json'), 'w') as f:
        json.dump({'epochs': a.epochs, 'lr': 0.01, 'seed': a.seed, 'note': '</script><b>not markup</b>',
                   '_command': 'make_run.py'}, f)
    with open(os.path.join(a.dir, 'metrics.jsonl'), 'w') as f:
        for e in range(1, a.epochs + 1):
            f.write(json.dumps({'epoch': e, 'train_loss': 2.0 / e, 'test_loss': 2.2 / e + 0.01 * e,
                                'train_error': 0.5 / e, 'test_error': 0.55 / e, 'lr': 0.01 * 0.9 ** e,
                                'note': 'text is not a series', 'timing': {'epoch_s': 0.1 * e}}) + '\n')
    img = np.add.outer(np.arange(32), np.arange(48)) * 3 % 256
    write_png(os.path.join(a.dir, 'figure.png'), img)
    entries = []
    for name, kind, frames, extra, pos in streams(rng):
        if frames.dtype != np.uint8:
            frames = frames.astype(np.float32)
        if pos is not None:
            write_npy(os.path.join(a.dir, 'record', extra['positions']), pos)
        chunks = []
        for c, t0 in enumerate(range(0, len(frames), a.chunk)):
            fn = '%s_%06d.npy' % (name, c)
            write_npy(os.path.join(a.dir, 'record', fn), frames[t0:t0 + a.chunk])
            chunks.append({'file': fn, 't0': t0, 'frames': len(frames[t0:t0 + a.chunk])})
        e = {'name': name, 'kind': kind, 'frame_shape': list(frames.shape[1:]),
             'dtype': 'uint8' if frames.dtype == np.uint8 else 'float32', 'time_unit': 'step', 'dt': 1.0}
        e.update(extra)
        e['chunks'] = chunks
        entries.append(e)
    tmp = os.path.join(a.dir, 'record', 'index.json.tmp')
    with open(tmp, 'w') as f:
        json.dump({'format': 'neurodyn-record', 'version': 1, 'streams': entries}, f, indent=1)
    os.replace(tmp, os.path.join(a.dir, 'record', 'index.json'))


if __name__ == '__main__':
    main()
