"""The fixed EMPS validation split: which real images training never sees.

Chosen by sorting ids on ``sha256(f"{seed}:{id}")`` and taking the first ``n_val``: stable
whatever the order files are listed in, independent of the rest of the data, and reproducible
from the two numbers in the model card.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

VAL_SEED = 20211136  # J. Chem. Inf. Model. 61 (2021) 1136: the EMPS paper
N_VAL = 66


def split_ids(
    ids: Iterable[str], *, n_val: int = N_VAL, seed: int = VAL_SEED
) -> tuple[list[str], list[str]]:
    """Return ``(train_ids, val_ids)``, each sorted."""
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    val = sorted(ranked[:n_val])
    train = sorted(ranked[n_val:])
    return train, val
