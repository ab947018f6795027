"""Masks to YOLO-seg polygons (holes, multi-part instances), the fixed split, dataset layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from analysis.train.dataset import DatasetSpec, build_dataset, tiles
from analysis.train.polygons import labels_to_yolo_lines, mask_to_polygon, polygon_to_mask
from analysis.train.split import split_ids


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_ring_polygon_keeps_its_hole() -> None:
    ring = np.zeros((60, 60), np.uint8)
    cv2.circle(ring, (30, 30), 22, 1, -1)
    cv2.circle(ring, (30, 30), 10, 0, -1)
    back = polygon_to_mask(mask_to_polygon(ring.astype(bool)), ring.shape)
    assert not back[30, 30]
    assert _iou(back, ring.astype(bool)) > 0.9


def test_two_part_instance_becomes_one_polygon_covering_both() -> None:
    m = np.zeros((40, 80), bool)
    m[5:20, 5:20] = True
    m[20:35, 50:70] = True
    back = polygon_to_mask(mask_to_polygon(m), m.shape)
    assert back[12, 12] and back[27, 60]
    assert _iou(back, m) > 0.85


def test_yolo_lines_are_normalised_one_per_instance() -> None:
    labels = np.zeros((50, 100), np.uint16)
    labels[10:20, 10:30] = 1
    labels[30:45, 60:90] = 2
    lines = labels_to_yolo_lines(labels)
    assert len(lines) == 2
    for line in lines:
        values = [float(v) for v in line.split()]
        assert values[0] == 0
        assert all(0.0 <= v <= 1.0 for v in values[1:])
        assert len(values[1:]) % 2 == 0


def test_split_is_fixed_disjoint_and_order_free() -> None:
    ids = [f"{i:04x}" for i in range(366)]
    train, val = split_ids(ids)
    assert len(val) == 66 and len(train) == 300
    assert not set(train) & set(val)
    assert split_ids(list(reversed(ids))) == (train, val)


def test_tiles_cover_length() -> None:
    assert tiles(512, 512) == [0]
    assert tiles(700, 512) == [0, 188]


def test_synthetic_only_dataset_layout(tmp_path: Path) -> None:
    spec = DatasetSpec(emps_dir=None, out_dir=tmp_path, n_synthetic=3, synth_size_px=128)
    data_yaml = build_dataset(spec)
    assert data_yaml.read_text().splitlines()[1:3] == ["train: images/train", "val: images/val"]
    assert len(list((tmp_path / "images" / "train").glob("*.png"))) == 3
    assert len(list((tmp_path / "labels" / "train").glob("*.txt"))) == 3
    assert spec.counts["synthetic"] == 3 and spec.counts["val"] == 4
