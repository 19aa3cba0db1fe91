"""neurodyn.load(path): a checkpoint back as the model its "model" entry names."""
from . import _core

_LOADERS = {}


def register(model, loader):
    """Makes neurodyn.load() hand checkpoints whose "model" entry is `model`
    to loader(path).  Each family registers itself when imported."""
    _LOADERS[model] = loader


def load(path):
    """The model saved in the checkpoint at `path` (Krotov, KrotovODE,
    KrotovTop, MLP, ...), chosen by its "model" entry."""
    model = _core.checkpoint_model(path)
    if model not in _LOADERS:
        raise InputError("%s: model %r has no Python binding (known: %s)"
                         % (path, model, ", ".join(sorted(_LOADERS))))
    return _LOADERS[model](path)


InputError = _core.InputError
