"""BPartIS, the peer model: ImageDataExtractor 2.0's particle instance segmenter, our loader.

BPartIS (Yildirim & Cole, J. Chem. Inf. Model. 61 (2021) 1136, doi:10.1021/acs.jcim.0c01455;
code MIT, © 2020 Batuhan Yildirim) is a branched ERFNet (2.3 M parameters) trained on EMPS: one
decoder predicts a 2-D spatial-embedding offset and a 2-D clustering bandwidth per pixel, the
other a seed map; instances are grown from the strongest seeds (Neven et al., CVPR 2019,
"Instance segmentation by jointly optimizing spatial embeddings and clustering bandwidth").
Its weights ship inside the ``imagedataextractor`` wheel on PyPI. That package pulls in stale,
unrelated dependencies, so it is never installed: :func:`install_weights` reads
``seg-model.pt`` out of the wheel into ``var/models/`` (git-ignored), and this module rebuilds
the published architecture with the same parameter names so the state dict loads as is.

Inference here is deterministic (dropout off), not IDE's 30-pass Monte-Carlo mean, to keep the
CPU cost of the bench at one pass; and tile-wise at native resolution (512-px tiles, 128-px
overlap, merged like our own model's tiles), which is the fair way to run it on full frames:
IDE squeezes every image to 512 × 512, and its clustering drops instances under 128 px of the
scale it sees.

torch is imported lazily (the engine must import without it).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from analysis.result import Region
from analysis.segment import tiling

_REPO = Path(__file__).resolve().parents[2]
DEFAULT_WEIGHTS = _REPO / "var" / "models" / "bpartis-seg-model.pt"
WHEEL_MEMBER = "imagedataextractor/models/seg-model.pt"
WHEEL = "imagedataextractor-2.0.4-py3-none-any.whl"
MIN_PIXELS = 128  # the published clustering's floor: seeds and proposals of fewer pixels drop
N_SIGMA = 2


def install_weights(wheel: Path, dst: Path = DEFAULT_WEIGHTS) -> Path:
    """Copy ``seg-model.pt`` out of the ``imagedataextractor`` wheel (a zip) to ``dst``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z, z.open(WHEEL_MEMBER) as src, dst.open("wb") as out:
        shutil.copyfileobj(src, out)
    return dst


@functools.cache
def _net_classes() -> dict[str, Any]:
    """The ERFNet modules, built on first use (torch is heavy and optional)."""
    import torch  # noqa: PLC0415  (heavy optional dependency)
    from torch import nn  # noqa: PLC0415
    from torch.nn import functional as F  # noqa: PLC0415, N812

    class DownsamplerBlock(nn.Module):
        """Strided conv ‖ max-pool, concatenated: halves the resolution."""

        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(n_in, n_out - n_in, (3, 3), stride=2, padding=1, bias=True)
            self.pool = nn.MaxPool2d(2, stride=2)
            self.bn = nn.BatchNorm2d(n_out, eps=1e-3)

        def forward(self, x: Any) -> Any:
            return F.elu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))

    class NonBottleneck1d(nn.Module):
        """Factorised (3×1, 1×3) residual block, the second pair dilated."""

        def __init__(self, ch: int, drop: float, dil: int) -> None:
            super().__init__()
            self.conv3x1_1 = nn.Conv2d(ch, ch, (3, 1), padding=(1, 0), bias=True)
            self.conv1x3_1 = nn.Conv2d(ch, ch, (1, 3), padding=(0, 1), bias=True)
            self.bn1 = nn.BatchNorm2d(ch, eps=1e-3)
            self.conv3x1_2 = nn.Conv2d(
                ch, ch, (3, 1), padding=(dil, 0), bias=True, dilation=(dil, 1)
            )
            self.conv1x3_2 = nn.Conv2d(
                ch, ch, (1, 3), padding=(0, dil), bias=True, dilation=(1, dil)
            )
            self.bn2 = nn.BatchNorm2d(ch, eps=1e-3)
            self.dropout = nn.Dropout2d(drop)

        def forward(self, x: Any) -> Any:
            y = F.elu(self.conv3x1_1(x))
            y = F.elu(self.bn1(self.conv1x3_1(y)))
            y = F.elu(self.conv3x1_2(y))
            y = self.bn2(self.conv1x3_2(y))
            return F.elu(self.dropout(y) + x)

    class Encoder(nn.Module):
        def __init__(self, n_classes: int) -> None:
            super().__init__()
            self.initial_block = DownsamplerBlock(3, 16)
            layers: list[nn.Module] = [DownsamplerBlock(16, 64)]
            layers += [NonBottleneck1d(64, 0.03, 1) for _ in range(5)]
            layers.append(DownsamplerBlock(64, 128))
            for _ in range(2):
                layers += [NonBottleneck1d(128, 0.3, d) for d in (2, 4, 8, 16)]
            self.layers = nn.ModuleList(layers)
            self.output_conv = nn.Conv2d(128, n_classes, 1, bias=True)  # unused at inference

        def forward(self, x: Any) -> Any:
            x = self.initial_block(x)
            for layer in self.layers:
                x = layer(x)
            return x

    class UpsamplerBlock(nn.Module):
        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(n_in, n_out, 3, padding=1, bias=True)
            self.bn = nn.BatchNorm2d(n_out, eps=1e-3)

        def forward(self, x: Any) -> Any:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            return F.elu(self.bn(self.conv(x)))

    class Decoder(nn.Module):
        def __init__(self, n_classes: int) -> None:
            super().__init__()
            self.layers = nn.ModuleList(
                [
                    UpsamplerBlock(128, 64),
                    NonBottleneck1d(64, 0, 1),
                    NonBottleneck1d(64, 0, 1),
                    UpsamplerBlock(64, 16),
                    NonBottleneck1d(16, 0, 1),
                    NonBottleneck1d(16, 0, 1),
                ]
            )
            self.output_conv = nn.Conv2d(16, n_classes, 3, padding=1, bias=True)

        def forward(self, x: Any) -> Any:
            for layer in self.layers:
                x = layer(x)
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            return self.output_conv(x)

    class BranchedERFNet(nn.Module):
        """One shared encoder, one decoder per output group: [offset+sigma (4), seed (1)]."""

        def __init__(self, n_classes: tuple[int, ...] = (4, 1)) -> None:
            super().__init__()
            self.encoder = Encoder(sum(n_classes))
            self.decoders = nn.ModuleList([Decoder(n) for n in n_classes])

        def forward(self, x: Any) -> Any:
            z = self.encoder(x)
            return torch.cat([d(z) for d in self.decoders], 1)

    return {"BranchedERFNet": BranchedERFNet, "torch": torch}


def cluster(prediction: Any, threshold: float = 0.5) -> list[tuple[np.ndarray, float]]:
    """Instances ``(mask (H, W) bool, seed score)`` from one (5, H, W) network output.

    The published procedure: pixel embeddings are ``tanh(offset) + normalised coordinates``;
    the strongest unclustered seed above ``threshold`` claims every pixel within its learned
    Gaussian bandwidth (> 0.5); proposals that are mostly already claimed, or smaller than
    ``MIN_PIXELS``, are dropped.
    """
    torch = _net_classes()["torch"]
    _, h, w = prediction.shape
    xm = torch.linspace(0, 1, w).view(1, 1, -1).expand(1, h, w)
    ym = torch.linspace(0, 1, h).view(1, -1, 1).expand(1, h, w)
    emb = torch.tanh(prediction[0:2]) + torch.cat((xm, ym), 0)
    sigma = prediction[2 : 2 + N_SIGMA]
    seed_map = torch.sigmoid(prediction[2 + N_SIGMA : 3 + N_SIGMA])
    fg = (seed_map > 0.5)[0]
    out: list[tuple[np.ndarray, float]] = []
    n_fg = int(fg.sum())
    if n_fg <= MIN_PIXELS:
        return out
    emb_m = emb[:, fg]
    sig_m = sigma[:, fg]
    seed_m = seed_map[0][fg]
    unclustered = torch.ones(n_fg, dtype=torch.bool)
    fg_idx = fg.nonzero(as_tuple=False)
    while int(unclustered.sum()) > MIN_PIXELS:
        masked = seed_m * unclustered.float()
        seed = int(masked.argmax())
        score = float(masked[seed])
        if score < threshold:
            break
        unclustered[seed] = False
        s = torch.exp(sig_m[:, seed : seed + 1] * 10)
        dist = torch.exp(-torch.sum((emb_m - emb_m[:, seed : seed + 1]) ** 2 * s, 0))
        proposal = dist > 0.5
        n_prop = int(proposal.sum())
        if n_prop > MIN_PIXELS and float(unclustered[proposal].float().mean()) > 0.5:
            mask = np.zeros((h, w), bool)
            pts = fg_idx[proposal].numpy()
            mask[pts[:, 0], pts[:, 1]] = True
            out.append((mask, score))
        unclustered[proposal] = False
    return out


class BPartIS:
    """The peer model behind the same ``segment(grey, region)`` contract as ParticleModel."""

    version = "bpartis-ide-2.0.4"

    def __init__(
        self, weights: Path = DEFAULT_WEIGHTS, tile_px: int = 512, overlap_px: int = 128
    ) -> None:
        if not Path(weights).is_file():
            raise FileNotFoundError(weights)
        nets = _net_classes()
        torch = nets["torch"]
        self._torch = torch
        self.net = nets["BranchedERFNet"]()
        self.net.load_state_dict(torch.load(str(weights), map_location="cpu"))
        self.net.eval()
        self.tile_px, self.overlap_px = tile_px, overlap_px

    def predict_tile(self, tile: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Instances of one (h, w) float [0, 1] tile; padded to a multiple of 8 for the net."""
        h, w = tile.shape
        ph, pw = -h % 8, -w % 8
        x = np.pad(tile, ((0, ph), (0, pw)), mode="reflect") if ph or pw else tile
        t = self._torch.from_numpy(np.ascontiguousarray(x, np.float32))[None, None]
        with self._torch.inference_mode():
            pred = self.net(t.expand(1, 3, *x.shape))[0]
        return [(m[:h, :w], s) for m, s in cluster(pred[:, : x.shape[0], : x.shape[1]])]

    def labels(self, sample: Any) -> np.ndarray:
        """Labels of an :class:`analysis.evaluate.Sample` (its grey image and region)."""
        return self.segment(sample.grey, sample.region)[0]

    def segment(
        self, grey: np.ndarray, region: Region | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Instance labels (H, W) uint32 over ``region`` and one seed score per label."""
        h_img, w_img = grey.shape
        r = region or Region(0, 0, w_img, h_img)
        crop = np.clip(np.asarray(grey[r.y0 : r.y1, r.x0 : r.x1], np.float32), 0, 1)
        h, w = crop.shape
        instances: list[tiling.Instance] = []
        for x0, y0, x1, y1 in tiling.tile_grid(h, w, self.tile_px, self.overlap_px):
            found = self.predict_tile(crop[y0:y1, x0:x1])
            if not found:
                continue
            masks = np.stack([m for m, _ in found])
            scores = np.array([s for _, s in found], np.float32)
            instances += tiling.instances_from_tile(masks, scores, (x0, y0, x1, y1), (h, w))
        labels, scores = tiling.merge_instances(instances, (h, w))
        full = np.zeros((h_img, w_img), np.uint32)
        full[r.y0 : r.y1, r.x0 : r.x1] = labels
        return full, scores


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.segment.bpartis WHEEL``: install the weights out of the wheel."""
    ap = argparse.ArgumentParser(prog="python -m analysis.segment.bpartis")
    ap.add_argument("wheel", type=Path, help=f"a downloaded {WHEEL}")
    ap.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    a = ap.parse_args(argv)
    print(install_weights(a.wheel, a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
