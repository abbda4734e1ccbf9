"""Fake ``comfy.utils``: a ``ProgressBar`` whose updates are recorded in ``UPDATES``; ``HOOK`` (if set)
is called with each update, as ComfyUI's server hook is."""

UPDATES: list[tuple] = []
HOOK = None


class ProgressBar:
    def __init__(self, total, node_id=None):
        self.total = total
        self.current = 0

    def update_absolute(self, value, total=None, preview=None):
        if total is not None:
            self.total = total
        self.current = min(value, self.total)
        UPDATES.append((self.current, self.total, preview))
        if HOOK is not None:
            HOOK(self.current, self.total, preview)

    def update(self, value):
        self.update_absolute(self.current + value)
