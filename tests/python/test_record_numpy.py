"""The record format (docs/record.md) against NumPy, both ways.

tests/tools/record_tool writes a recording of every stream kind through the
library; here json and np.load read it as the format description says (index
fields, NPY dtype, shape [frames] + frame_shape, C order, chunk t0 contiguous)
and the values are compared with the formula the tool used.  Then this file
writes a recording of its own with np.save and json.dump, and the library's
reader (nd_record_index_read, nd_record_chunk_read) must give the same frame
counts and sums; a chunk whose shape disagrees with its index is refused."""
import json
import os
import subprocess

import numpy as np
import pytest

BUILD = os.environ.get("ND_BUILD_DIR", "build")
TOOL = os.path.join(BUILD, "record_tool")

STREAMS = {  # name: (kind, frame_shape, frames)
    "vec": ("vector", [7], 12),
    "spikes": ("raster", [9], 11),
    "grid": ("grid3d", [6], 5),
    "area.1": ("map2d", [2, 3, 4], 7),
    "w-img": ("image", [4, 5], 3),
}


def expected(kind, shape, frames):
    n = int(np.prod(shape))
    t = np.arange(frames)[:, None]
    i = np.arange(n)[None, :]
    v = (31 * t + 7 * i) % 101
    v = (v % 2).astype(np.uint8) if kind == "raster" else (v / 8.0).astype(np.float32)
    return v.reshape([frames] + shape)


@pytest.fixture(scope="module")
def tool():
    if not os.path.exists(TOOL):
        pytest.skip("record_tool not built in ND_BUILD_DIR")
    return TOOL


def test_library_writes_what_numpy_reads(tool, tmp_path):
    run = tmp_path / "run"
    subprocess.run([tool, "write", str(run)], check=True)
    rec = run / "record"
    index = json.loads((rec / "index.json").read_text())
    assert index["format"] == "neurodyn-record" and index["version"] == 1
    assert [s["name"] for s in index["streams"]] == list(STREAMS)
    for s in index["streams"]:
        kind, shape, frames = STREAMS[s["name"]]
        assert s["kind"] == kind and s["frame_shape"] == shape
        assert s["dtype"] == ("uint8" if kind == "raster" else "float32")
        t0, parts = 0, []
        for c in s["chunks"]:
            assert c["t0"] == t0 and 1 <= c["frames"] <= 5
            a = np.load(rec / c["file"], allow_pickle=False)
            assert a.dtype == (np.dtype("u1") if kind == "raster" else np.dtype("<f4"))
            assert list(a.shape) == [c["frames"]] + shape and a.flags["C_CONTIGUOUS"]
            parts.append(a)
            t0 += c["frames"]
        assert t0 == frames
        np.testing.assert_array_equal(np.concatenate(parts), expected(kind, shape, frames))
        if kind == "grid3d":
            pos = np.load(rec / s["positions"])
            assert pos.dtype == np.dtype("<f4") and pos.shape == (6, 3)
            np.testing.assert_array_equal(pos.ravel(), np.arange(18, dtype=np.float32) - 3.5)
        else:
            assert "positions" not in s
    img = index["streams"][4]
    assert img["time_unit"] == "epoch" and img["labels"] == {"model": "krotov"}
    assert index["streams"][1]["time_unit"] == "ms" and index["streams"][1]["dt"] == 0.25
    assert not [f for f in os.listdir(rec) if ".tmp." in f]


def write_numpy_recording(run, rng):
    rec = run / "record"
    rec.mkdir(parents=True)
    streams, data = [], {}
    for name, (kind, shape, frames) in STREAMS.items():
        dtype = np.uint8 if kind == "raster" else np.float32
        full = rng.integers(0, 2, size=[frames] + shape).astype(dtype) if kind == "raster" else \
            rng.standard_normal([frames] + shape).astype(dtype)
        data[name] = full
        chunks, t0 = [], 0
        for k, n in enumerate([2, frames - 2]):
            f = f"{name}_{k:06d}.npy"
            np.save(rec / f, full[t0:t0 + n])
            chunks.append({"file": f, "t0": t0, "frames": n})
            t0 += n
        s = {"name": name, "kind": kind, "frame_shape": shape, "dtype": np.dtype(dtype).name,
             "time_unit": "step", "dt": 1.0, "chunks": chunks}
        if kind == "grid3d":
            np.save(rec / "grid_positions.npy", rng.standard_normal((6, 3)).astype(np.float32))
            s["positions"] = "grid_positions.npy"
        streams.append(s)
    (rec / "index.json").write_text(json.dumps({"format": "neurodyn-record", "version": 1, "streams": streams}))
    return data


def test_numpy_writes_what_the_library_reads(tool, tmp_path):
    run = tmp_path / "np"
    data = write_numpy_recording(run, np.random.default_rng(5))
    out = subprocess.run([tool, "read", str(run)], check=True, capture_output=True, text=True).stdout.split("\n")
    rows = [line.split() for line in out if line]
    assert [r[0] for r in rows] == list(STREAMS)
    for name, kind, frames, total in rows:
        assert kind == STREAMS[name][0] and int(frames) == STREAMS[name][2]
        assert float(total) == pytest.approx(float(data[name].astype(np.float64).sum()), abs=1e-3)
    # a chunk that disagrees with its index
    np.save(run / "record" / "vec_000001.npy", np.zeros((4, 7), np.float32))
    r = subprocess.run([tool, "read", str(run)], capture_output=True, text=True)
    assert r.returncode == 1 and "vec_000001.npy" in r.stderr and "10x7" in r.stderr
