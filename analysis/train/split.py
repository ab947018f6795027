"""Fixed splits: which real images training never sees, and which tune the thresholds.

Every split sorts ids on ``sha256(f"{seed}:{id}")`` and takes the first ``n``: stable whatever
the order files are listed in, independent of the rest of the data, and reproducible from the
numbers in the model card.

- EMPS (366 upstream train images): 66 validation ids (``VAL_SEED``), then 24 tuning ids from
  the remaining 300 (``TUNE_SEED``); the other 276 are for training.
- msa-tem-train (20 frames ``image_0`` … ``image_19``): frames of in-situ series, so
  neighbouring frames are near-duplicates and a hashed split would leak; the split is a block
  by frame number: ``image_0``–``image_9`` train, ``image_10``–``image_19`` held out for
  out-of-domain validation. Too few to spare a tuning share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

VAL_SEED = 20211136  # J. Chem. Inf. Model. 61 (2021) 1136: the EMPS paper
N_VAL = 66
TUNE_SEED = 20261201  # the day the tuning split was cut from the EMPS training ids
N_TUNE = 24
N_MSA_TRAIN = 10  # frames image_0 … image_9


def _ranked(ids: Iterable[str], seed: int) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def split_ids(
    ids: Iterable[str], *, n_val: int = N_VAL, seed: int = VAL_SEED
) -> tuple[list[str], list[str]]:
    """Return ``(train_ids, val_ids)``, each sorted."""
    ranked = _ranked(ids, seed)
    return sorted(ranked[n_val:]), sorted(ranked[:n_val])


def emps_splits(ids: Iterable[str]) -> dict[str, list[str]]:
    """EMPS ids as ``{"train", "tune", "val"}`` (disjoint, each sorted); val as ever."""
    rest, val = split_ids(ids)
    train, tune = split_ids(rest, n_val=N_TUNE, seed=TUNE_SEED)
    return {"train": train, "tune": tune, "val": val}


def msa_splits(ids: Iterable[str]) -> dict[str, list[str]]:
    """msa-tem ids as ``{"train", "held_out"}``: a block split by frame number, each sorted."""
    ids = list(ids)
    train = [i for i in ids if _frame_number(i) < N_MSA_TRAIN]
    held_out = [i for i in ids if _frame_number(i) >= N_MSA_TRAIN]
    return {"train": sorted(train), "held_out": sorted(held_out)}


def _frame_number(image_id: str) -> int:
    """``image_12`` → 12 (the msa-tem naming)."""
    return int(image_id.rsplit("_", 1)[1])
