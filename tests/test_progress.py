"""The one loop callback shape's terminal adapter: ``TqdmCallback`` starts a resumed run's bar at its
checkpoint's step, follows the steps, and closes at the last one; ``phase_callback``."""

import io

from zeronvs_core.progress import TqdmCallback, phase_callback


def _bar(**options) -> tuple[TqdmCallback, io.StringIO]:
    out = io.StringIO()
    return TqdmCallback("distillation", file=out, mininterval=0, **options), out


def test_a_fresh_run_starts_at_zero():
    callback, _ = _bar()
    callback(1, 4)
    assert (callback.bar.initial, callback.bar.n, callback.bar.total) == (0, 1, 4)


def test_a_resumed_run_starts_at_its_checkpoint_step():
    callback, out = _bar()
    callback(3, 4, None)  # resumed from the checkpoint of step 2
    bar = callback.bar
    assert (bar.initial, bar.n, bar.total) == (2, 3, 4)
    assert "3/4" in out.getvalue()
    callback(4, 4, None)
    assert callback.bar is None and bar.n == 4 and "4/4" in out.getvalue()  # closed at the last step


def test_the_total_may_arrive_late_and_change():
    callback, _ = _bar(unit="slab")
    callback(1, 3)
    callback(2, 5)
    assert (callback.bar.n, callback.bar.total, callback.bar.unit) == (2, 5, "slab")
    with callback:
        pass
    assert callback.bar is None


def test_phase_callback():
    assert phase_callback(None, "rendering") is None
    made = []
    assert phase_callback(lambda description: made.append(description) or "cb", "rendering") == "cb"
    assert made == ["rendering"]
