"""Our BPartIS loader: the published ERFNet layout, the clustering, the weights from the wheel."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from analysis.segment import bpartis

torch = pytest.importorskip("torch")


def test_architecture_matches_the_published_parameter_count_and_names() -> None:
    net = bpartis._net_classes()["BranchedERFNet"]()
    assert sum(p.numel() for p in net.parameters()) == 2_253_238  # IDE 2.0.4 seg-model.pt
    keys = set(net.state_dict())
    assert "encoder.layers.0.conv.weight" in keys  # names as in the published state dict
    assert "decoders.1.output_conv.bias" in keys
    out = net.eval()(torch.zeros(1, 3, 64, 96))
    assert tuple(out.shape) == (1, 5, 64, 96)


def test_cluster_grows_one_instance_per_seed_region() -> None:
    h, w = 40, 80
    pred = torch.zeros(5, h, w)
    pred[2:4] = 1.0  # bandwidth: exp(10) — tight
    seed = torch.full((h, w), -10.0)
    seed[5:35, 5:35] = 10.0
    seed[5:35, 45:75] = 10.0
    pred[4] = seed
    # offsets pull every pixel of each square onto the square's centre
    xm = torch.linspace(0, 1, w).view(1, -1).expand(h, w)
    ym = torch.linspace(0, 1, h).view(-1, 1).expand(h, w)
    for x0, x1 in ((5, 35), (45, 75)):
        cx, cy = float(xm[0, (x0 + x1) // 2]), float(ym[20, 0])
        pred[0, 5:35, x0:x1] = torch.atanh(torch.clamp(cx - xm[5:35, x0:x1], -0.99, 0.99))
        pred[1, 5:35, x0:x1] = torch.atanh(torch.clamp(cy - ym[5:35, x0:x1], -0.99, 0.99))
    found = bpartis.cluster(pred)
    assert len(found) == 2
    masks = sorted((m for m, _ in found), key=lambda m: np.nonzero(m)[1].mean())
    assert masks[0][20, 20] and masks[1][20, 60] and not masks[0][20, 60]


def test_install_weights_reads_the_member_out_of_the_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / bpartis.WHEEL
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(bpartis.WHEEL_MEMBER, b"weights")
    dst = bpartis.install_weights(wheel, tmp_path / "m" / "w.pt")
    assert dst.read_bytes() == b"weights"


def test_missing_weights_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        bpartis.BPartIS(tmp_path / "none.pt")
