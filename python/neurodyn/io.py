"""Tensor files and data sets: safetensors, NPY, IDX and the MNIST /
Fashion-MNIST loaders of the C library (include/neurodyn/io.h, tensorfile.h,
data.h).  Arrays read come back owning the library's buffer (no copy);
arrays written are read in place when they are C-contiguous."""
from . import _core


def read_safetensors(path):
    """{name: array} of a safetensors file, in the file's dtypes (BF16 comes
    back as its raw uint16 bits: NumPy has no bfloat16)."""
    return read_safetensors_with_metadata(path)[0]


def read_safetensors_with_metadata(path):
    """({name: array}, {key: value}) of a safetensors file."""
    fmt, tensors, meta = _core.load_tensors(path)
    if fmt != "safetensors":
        raise _core.InputError("%s: is %s, expected a safetensors file" % (path, fmt))
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} (u8, i8, i16, i32, i64, f16, f32, f64, bool) and
    optional string metadata atomically."""
    _core.write_safetensors(path, dict(tensors), None if metadata is None else dict(metadata))


def read_npy(path):
    """The array of a .npy file (float32 or float64, C order)."""
    return _core.read_tensor(path, None)


def write_npy(path, array):
    """'<f8' for a float64 array, else '<f4' (other dtypes converted once)."""
    _core.write_npy(path, array)


def read_idx(path):
    """The array of an IDX file (raw or gzip), in its own dtype."""
    return _core.read_idx(path)


def write_idx(path, array):
    """An uncompressed IDX file (u8, i8, i16, i32, f32 or f64)."""
    _core.write_idx(path, array)


def read_tensor(path, name=None):
    """One tensor of a safetensors or NPY file (name: the safetensors tensor;
    None if the file holds exactly one)."""
    return _core.read_tensor(path, name)


def load_tensors(path):
    """Every tensor of an IDX, NPY or safetensors file: {name: array}."""
    return _core.load_tensors(path)[1]


def file_kind(path):
    """What a file is, by content: (format, phrase), e.g. ("PNG", "a PNG image")."""
    return _core.file_kind(path)


def load_dataset(name, split="train", limit=0, root=None):
    """(images [n, 784] float32 in [0, 1], labels int32 [n]) of "mnist" or
    "fashion-mnist", split "train" or "test", found under root/<name>, else
    $ND_DATA_DIR/<name>, else ./data/<name> (docs/data.md).  limit > 0 keeps
    the first `limit` examples."""
    x, y, _ = _core.load_dataset(name, split, int(limit), root)
    return x, y


def load_mnist(split="train", limit=0, root=None):
    """MNIST: see load_dataset."""
    return load_dataset("mnist", split, limit, root)


def load_fashion_mnist(split="train", limit=0, root=None):
    """Fashion-MNIST: see load_dataset."""
    return load_dataset("fashion-mnist", split, limit, root)


def data_dir(name, root=None):
    """Where load_dataset looks for a data set (NotFoundError if it is not there)."""
    return _core.data_find(name, root)


def write_png_tiles(path, filters, cols=0, cmap="bwr", zoom=2, global_range=False):
    """A grid of filters [n, h, w] as a PNG (cmap "bwr": signed, blue-white-red;
    "gray"), each tile on its own scale unless global_range, with a colour bar."""
    _core.write_png_tiles(path, filters, int(cols), cmap, int(zoom), bool(global_range))
