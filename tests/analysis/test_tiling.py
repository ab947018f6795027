"""Tiled inference merge: full coverage, seam-cut particles joined, duplicates dropped."""

from __future__ import annotations

import numpy as np

from analysis.segment.tiling import (
    Instance,
    instances_from_tile,
    merge_instances,
    tile_grid,
    tile_origins,
)


def test_tile_origins_cover_with_overlap() -> None:
    assert tile_origins(400, 512, 128) == [0]
    assert tile_origins(1024, 512, 128) == [0, 256, 512]
    starts = tile_origins(4096, 512, 128)
    assert starts[0] == 0 and starts[-1] == 4096 - 512
    assert all(b - a <= 512 - 128 for a, b in zip(starts, starts[1:], strict=False))


def test_tile_grid_is_flush_with_edges() -> None:
    grid = tile_grid(768, 1024, 512, 128)
    assert len(grid) == 6
    assert max(t[2] for t in grid) == 1024 and max(t[3] for t in grid) == 768


def _disk(shape: tuple[int, int], cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _tile_output(
    truth: list[np.ndarray], tile: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """What a perfect model sees in one tile: each particle's visible part."""
    x0, y0, x1, y1 = tile
    masks = [m[y0:y1, x0:x1] for m in truth if m[y0:y1, x0:x1].any()]
    return np.array(masks, bool).reshape(-1, y1 - y0, x1 - x0), np.full(len(masks), 0.9)


def test_merge_gives_each_particle_once_and_whole() -> None:
    shape = (100, 180)
    # One disk inside the overlap strip (seen whole twice), one big disk cut by both seams.
    truth = [_disk(shape, 15, 90, 6), _disk(shape, 62, 90, 30), _disk(shape, 20, 150, 6)]
    grid = tile_grid(100, 180, 100, 20)
    assert len(grid) == 2
    instances: list[Instance] = []
    for t in grid:
        masks, scores = _tile_output(truth, t)
        instances += instances_from_tile(masks, scores, t, shape)
    labels, scores = merge_instances(instances, shape)
    assert labels.max() == 3 and scores.shape == (3,)
    for m in truth:
        vals = np.unique(labels[m])
        assert vals.size == 1 and vals[0] > 0
        assert np.array_equal(labels == vals[0], m)


def test_image_edge_is_not_a_seam() -> None:
    m = np.zeros((1, 50, 50), bool)
    m[0, 0:10, 0:10] = True
    (inst,) = instances_from_tile(m, np.array([0.8]), (0, 0, 50, 50), (50, 50))
    assert not inst.cut
    (inst,) = instances_from_tile(m, np.array([0.8]), (50, 0, 100, 50), (50, 100))
    assert inst.cut and inst.x0 == 50


def test_duplicate_lower_score_is_dropped() -> None:
    m = np.ones((10, 10), bool)
    a = Instance(5, 5, m, 0.9)
    b = Instance(6, 5, m, 0.5)
    labels, scores = merge_instances([b, a], (30, 30))
    assert labels.max() == 1
    assert scores.tolist() == [np.float32(0.9)]
    assert labels[5, 5] == 1 and labels[5, 15] == 0
