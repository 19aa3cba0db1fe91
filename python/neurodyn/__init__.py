"""neurodyn: neurodynamical models in C, from Python.

    import neurodyn
    model = neurodyn.Krotov(hidden=100, p=2, k=2, epochs=20)
    X, y = neurodyn.io.load_mnist("train", limit=10000)
    model.fit(X, progress=True)
    model.save("krotov.safetensors")
    same = neurodyn.load("krotov.safetensors")

float32 C-contiguous arrays go in without a copy; results are NumPy arrays
that own or view the library's memory (docs/python.md).
"""
from . import _core
from ._core import InputError, LibraryError, NotFoundError
from . import autodiff, io, krotov, lca, reservoir
from .krotov import Krotov, KrotovODE
from .krotov_top import KrotovTop
from .mlp import MLP
from .reservoir import ESN
from ._registry import load, register

__version__ = _core.version()
set_num_threads = _core.set_num_threads
get_num_threads = _core.get_num_threads
as_float32 = _core.as_float32

__all__ = ["Krotov", "KrotovODE", "KrotovTop", "MLP", "ESN", "reservoir", "load", "register", "autodiff", "io", "krotov", "lca",
           "InputError", "LibraryError", "NotFoundError", "set_num_threads", "get_num_threads", "as_float32", "__version__"]
