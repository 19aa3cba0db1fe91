"""What the gradient-trained models share (MLP, KrotovTop): fit with Adam
and a cosine anneal, one library epoch per step of the loop, a progress bar
per epoch, Ctrl-C between epochs."""
import math

from . import _core
from ._progress import Progress


class Supervised:
    _prefix = None

    def _fit_setup(self, n, epochs, batch, lr, lr_final, weight_decay, seed):
        steps = epochs * math.ceil(n / batch)
        getattr(_core, self._prefix + "_setup")(self._h, float(lr), float(lr_final), int(steps),
                                                float(weight_decay), int(seed))

    def _fit_loop(self, X, y, epochs, batch, progress, desc):
        X, y = _core.as_float32(X, "X"), _core.as_int32(y, "y")  # converted once, not per epoch
        bar = Progress(progress, epochs, desc)
        epoch_fn = getattr(_core, self._prefix + "_epoch")
        try:
            for e in range(epochs):
                # the library runs a whole epoch with the GIL released; Ctrl-C
                # is raised here, between epochs, and leaves the model usable
                self.losses.append(epoch_fn(self._h, X, y, int(batch)))
                bar(e, 1, 1)
        finally:
            bar.close()
        return self
