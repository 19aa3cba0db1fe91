"""The progress bar of fit(): tqdm when it is installed, else a one-line
counter on stderr; both are driven by the library's per-minibatch callback."""
import sys

try:
    from tqdm import tqdm as _tqdm
except ImportError:  # pragma: no cover - tqdm is optional
    _tqdm = None


class _Line:
    def __init__(self, total, desc):
        self.total, self.n, self.desc = total, 0, desc

    def update(self, k):
        self.n += k
        sys.stderr.write("\r%s %d/%d" % (self.desc, self.n, self.total))
        sys.stderr.flush()

    def set_postfix_str(self, s):
        pass

    def close(self):
        sys.stderr.write("\n")


class Progress:
    """Callable for the library: called as cb(epoch, done, total) after each
    minibatch; counts minibatches over `epochs` epochs."""

    def __init__(self, enabled, epochs, desc):
        self.enabled, self.epochs, self.desc = enabled, epochs, desc
        self.bar, self.last = None, 0

    def __call__(self, epoch, done, total):
        if not self.enabled:
            return False
        if self.bar is None:
            n = total * self.epochs
            self.bar = _tqdm(total=n, desc=self.desc, unit="batch") if _tqdm else _Line(n, self.desc)
            self.last = done - 1 if done > 0 else 0
        step = done - self.last if done >= self.last else done
        self.last = done if done < total else 0
        if step > 0:
            self.bar.update(step)
        return False

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
