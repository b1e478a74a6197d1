"""Interrupting a trainer the way a kill does, for the resume tests."""

from collections.abc import Callable
from types import ModuleType

import pytest


def run_interrupted(
    monkeypatch: pytest.MonkeyPatch, trainer: ModuleType, run: Callable[[], object], epoch: int = 1
):
    """Call `run` with `trainer.check_finite` (`trainer`: the module whose loop checks the loss) raising
    KeyboardInterrupt at the first step of `epoch` (after the previous epoch's checkpoint), expect the
    interrupt, and put the real check back."""
    real_check = trainer.check_finite

    def interrupt(loss, at_epoch, step, checkpoint):
        if at_epoch == epoch:
            raise KeyboardInterrupt
        real_check(loss, at_epoch, step, checkpoint)

    monkeypatch.setattr(trainer, "check_finite", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(trainer, "check_finite", real_check)
