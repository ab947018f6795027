"""The real trainer, holding after each epoch (its checkpoint already saved) for
``SLOW_TRAINER_HOLD_S`` seconds, so a test can kill the worker between epochs. Nothing about
the training itself is faked."""

from __future__ import annotations

import os
import time

from semweb.mlmodels import engine


def train_and_evaluate(job, *, on_epoch, **callbacks):
    hold_s = float(os.environ.get("SLOW_TRAINER_HOLD_S", "0"))

    def held(report):
        on_epoch(report)
        time.sleep(hold_s)

    return engine.train_and_evaluate(job, on_epoch=held, **callbacks)
