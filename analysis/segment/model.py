"""The particle model: the one module of the engine that touches ultralytics.

Everything else sees plain arrays: :class:`ParticleModel.segment` takes a grey image and the
region to analyse and returns an instance label map plus one score per label. Ultralytics is
configured fully offline before it is imported (no telemetry, no font or weight downloads,
no pip installs), weights are loaded from local paths only, and the import is deferred so
``import analysis`` stays fast and works where the model is not wanted.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analysis.result import Region
from analysis.segment import tiling

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_WEIGHTS = MODELS_DIR / "particle-yolov8n-seg.pt"
DEFAULT_ONNX = MODELS_DIR / "particle-yolov8n-seg.onnx"
DEFAULT_OPENVINO = MODELS_DIR / "particle-yolov8n-seg_openvino_model"
# CPU runtimes in the order they are preferred: measured by ``python -m benchmarks.engine.runtime``
# on the 2-core development machine (2026-12-01, normalised 512-px tiles, 4-tile batch):
# OpenVINO 0.62× torch's time, ONNX Runtime 1.19× (slower than torch here).
CPU_RUNTIMES = ("openvino", "onnx")
_REPO_ROOT = Path(__file__).resolve().parents[2]


def configure_offline(config_dir: Path | None = None) -> Path:
    """Make ultralytics run with no network: env flags, local fonts, settings sync off.

    Must run before the first ``import ultralytics``. ``YOLO_OFFLINE`` alone does not stop
    the font download in dataset checks and plots, so a bundled TTF is placed where
    ultralytics looks for ``Arial.ttf``.
    """
    cfg = Path(
        os.environ.get("YOLO_CONFIG_DIR") or config_dir or _REPO_ROOT / "var" / "ultralytics"
    )
    os.environ["YOLO_CONFIG_DIR"] = str(cfg)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "false")
    font_dir = cfg / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    # Lazy import: matplotlib is optional (it comes with ultralytics); only its font is used.
    import matplotlib  # noqa: PLC0415

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (font_dir / name).exists():
            shutil.copy(ttf, font_dir / name)
    return cfg


@functools.cache
def _ultralytics() -> Any:
    configure_offline()
    # Lazy import: heavy optional (ultralytics pulls in torch, ~2 s); only model runs need it.
    import ultralytics  # noqa: PLC0415
    from ultralytics.utils import SETTINGS  # noqa: PLC0415

    cfg = Path(os.environ["YOLO_CONFIG_DIR"])
    wanted = dict(
        sync=False,
        wandb=False,
        mlflow=False,
        tensorboard=False,
        comet=False,
        clearml=False,
        dvc=False,
        neptune=False,
        raytune=False,
        vscode_msg=False,
        openvino_msg=False,
        datasets_dir=str(cfg / "datasets"),
        weights_dir=str(cfg / "weights"),
        runs_dir=str(cfg / "runs"),
    )
    SETTINGS.update({k: v for k, v in wanted.items() if k in SETTINGS})
    return ultralytics


def train_yolo(
    *,
    data_yaml: Path,
    project: Path,
    name: str,
    model_yaml: str = "yolov8n-seg.yaml",
    epochs: int = 30,
    imgsz: int = 512,
    batch: int = 8,
    device: str = "cpu",
    workers: int = 2,
    seed: int = 0,
    resume: bool = True,
    val: bool = False,
    extra: dict[str, Any] | None = None,
    callbacks: Mapping[str, Callable[[Any], None]] | None = None,
) -> Path:
    """Train (or resume) a YOLO-seg model; returns the run directory.

    ``model_yaml`` names an architecture (from scratch) or a local ``.pt`` whose weights are
    the starting point (fine-tuning: pass ``extra={"pretrained": True}``, else ultralytics
    8.4 discards the loaded weights; published weights carry no optimizer state, so it starts a
    new run from them rather than resuming theirs). Resumes from
    ``project/name/weights/last.pt`` when it exists and ``resume`` is set, so a long CPU
    training can be stopped and continued. ``callbacks`` maps ultralytics events (e.g.
    ``on_fit_epoch_end``, called after the epoch's checkpoint is saved) to functions of the
    trainer; an exception raised in one stops the training. ``amp`` stays off: its check
    downloads weights.
    """
    yolo = _ultralytics()
    run_dir = Path(project) / name
    last = run_dir / "weights" / "last.pt"

    def hooked(model: Any) -> Any:
        for event, func in (callbacks or {}).items():
            model.add_callback(event, func)
        return model

    if resume and last.exists():
        # Only what ultralytics allows on resume: a wall-time budget (it then re-plans the
        # epochs and the LR schedule to fit), workers, batch, close_mosaic.
        allowed = {"time", "workers", "batch", "close_mosaic", "device"}
        model = hooked(yolo.YOLO(str(last)))
        model.train(resume=True, **{k: v for k, v in (extra or {}).items() if k in allowed})
        return run_dir
    model = hooked(yolo.YOLO(model_yaml))
    args: dict[str, Any] = dict(
        data=str(Path(data_yaml).resolve()),
        project=str(Path(project).resolve()),
        name=name,
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        device=device,
        workers=workers,
        seed=seed,
        pretrained=False,
        amp=False,
        val=val,
        plots=False,
        exist_ok=True,
        deterministic=False,
        patience=0,
        save_period=-1,
        warmup_epochs=1,
        close_mosaic=max(1, epochs // 6),
        cache=False,
        degrees=10.0,
        flipud=0.5,
        fliplr=0.5,
        scale=0.4,
        hsv_h=0.0,
        hsv_s=0.0,
        hsv_v=0.3,
        overlap_mask=True,
        mask_ratio=4,
        verbose=True,
    )
    args.update(extra or {})
    model.train(**args)
    return run_dir


def _sidecar_path(weights: Path) -> Path:
    """``<weights>.json``, or ``semweb.json`` inside an exported OpenVINO folder."""
    weights = Path(weights)
    return weights / "semweb.json" if weights.is_dir() else weights.with_suffix(".json")


def read_sidecar(weights: Path) -> dict[str, Any]:
    """The JSON written next to published weights (trained date, arch, imgsz, tile size)."""
    sidecar = _sidecar_path(weights)
    return json.loads(sidecar.read_text()) if sidecar.exists() else {}


def publish_weights(
    src: Path, dst: Path, meta: dict[str, Any], runtimes: tuple[str, ...] = ("openvino",)
) -> Path:
    """Copy a training checkpoint to ``dst`` without optimizer state (fp16, ~7 MB) + sidecar.

    Then export it for each CPU runtime in ``runtimes`` next to it (``DEFAULT_OPENVINO`` for
    the default weights), so :func:`load_default_model` finds a current export.
    """
    _ultralytics()
    # Lazy import: heavy optional (ultralytics pulls in torch, ~2 s); only model runs need it.
    from ultralytics.utils.torch_utils import strip_optimizer  # noqa: PLC0415

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    strip_optimizer(str(src), str(dst))
    dst.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    for runtime in runtimes:
        export(dst, runtime, imgsz=int(meta.get("imgsz", 512)), out_dir=dst.parent)
    return dst


def weights_version(weights: Path) -> str:
    """``yolov8n-seg-semweb-<trained date>-<sha8 of the weights>``: recorded on every result.

    The date comes from the sidecar ``<weights>.json`` written with the weights (else the
    file's modification date); the hash pins the exact bytes. An exported copy (ONNX,
    OpenVINO) carries the version of the ``.pt`` it came from in its sidecar, so a result
    names the same weights whichever runtime ran them.
    """
    meta = read_sidecar(weights)
    if meta.get("source_version"):
        return str(meta["source_version"])
    digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:8]
    sidecar = _sidecar_path(weights)
    trained = None
    arch = "yolov8n-seg"
    if sidecar.exists():
        meta = json.loads(sidecar.read_text())
        trained = meta.get("trained")
        arch = meta.get("arch", arch)
    if not trained:
        trained = datetime.fromtimestamp(Path(weights).stat().st_mtime, UTC).strftime("%Y%m%d")
    return f"{arch}-semweb-{str(trained).replace('-', '')}-{digest}"


@dataclass
class InferenceOptions:
    """How the model is run. Tile size matches training (512-px tiles at native resolution)."""

    tile_px: int = 512
    overlap_px: int = 128
    imgsz: int | None = None  # network input; None = as trained (sidecar JSON), else tile_px
    conf: float | None = None  # score threshold; None = as tuned on validation (sidecar)
    iou: float = 0.6
    max_det: int = 1000
    batch: int = 4
    global_pass: bool = True  # also run the whole region once, for particles bigger than tiles
    device: str = "cpu"
    half: bool = False  # fp16 on CUDA only
    # Feed tiles at their own pixel scale (pad, never resize): for weights trained on
    # scale-normalised data (sidecar ``target_diameter_px``), whose caller resamples the image
    # first. None = from the sidecar.
    keep_scale: bool | None = None


class ParticleModel:
    """A trained YOLO-seg particle model (``.pt`` via torch or ``.onnx`` via onnxruntime)."""

    def __init__(self, weights: Path, options: InferenceOptions | None = None) -> None:
        self.weights = Path(weights)
        if not (self.weights.is_file() or self.weights.name.endswith("_openvino_model")):
            raise FileNotFoundError(self.weights)  # never let ultralytics try to download it
        if not self.weights.exists():
            raise FileNotFoundError(self.weights)
        self.options = options or InferenceOptions()
        yolo = _ultralytics()
        self._yolo = yolo.YOLO(str(self.weights), task="segment")
        self.version = weights_version(self.weights)
        self.meta = read_sidecar(self.weights)
        if self.options.imgsz is None:
            self.options.imgsz = int(self.meta.get("imgsz", self.options.tile_px))
        if self.options.conf is None:
            self.options.conf = float(self.meta.get("conf", 0.25))
        if self.options.keep_scale is None:
            self.options.keep_scale = "target_diameter_px" in self.meta
        self.backend = (
            "onnxruntime"
            if self.weights.suffix == ".onnx"
            else "openvino"
            if self.weights.is_dir()
            else "torch"
        )

    def predict_tiles(
        self, tiles: list[np.ndarray], imgsz: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Raw model output per (H, W, 3) uint8 tile: ``(masks (N, H, W) bool, scores (N,))``."""
        o = self.options
        out = []
        for i in range(0, len(tiles), max(1, o.batch)):
            chunk = tiles[i : i + max(1, o.batch)]
            fed = [pad_to(t, imgsz) for t in chunk] if o.keep_scale else chunk
            results = self._yolo.predict(
                fed,
                imgsz=imgsz,
                conf=o.conf,
                iou=o.iou,
                max_det=o.max_det,
                retina_masks=True,
                device=o.device,
                half=o.half and o.device != "cpu",
                verbose=False,
            )
            for tile, r in zip(chunk, results, strict=True):
                if r.masks is None or len(r.boxes) == 0:
                    out.append((np.zeros((0, *tile.shape[:2]), bool), np.zeros(0, np.float32)))
                    continue
                masks = r.masks.data.cpu().numpy() > 0.5
                masks = masks[:, : tile.shape[0], : tile.shape[1]]
                scores = r.boxes.conf.cpu().numpy().astype(np.float32)
                out.append((masks, scores))
        return out

    def segment(
        self, grey: np.ndarray, region: Region | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Instance labels over ``region`` of ``grey`` by tiled inference at full resolution.

        Parameters
        ----------
        grey : (H, W) float ndarray in [0, 1]
        region : the analysed rectangle (image minus data bar); ``None`` = whole image.

        Returns
        -------
        labels : (H, W) uint32, 0 outside the region and on background, 1..N particles.
        scores : (N,) float32, ``scores[k]`` is the confidence of label ``k + 1``.
        """

        h_img, w_img = grey.shape
        r = region or Region(0, 0, w_img, h_img)
        crop = np.asarray(grey[r.y0 : r.y1, r.x0 : r.x1], dtype=np.float32)
        u8 = np.round(np.clip(crop, 0.0, 1.0) * 255).astype(np.uint8)
        bgr = np.ascontiguousarray(np.repeat(u8[:, :, None], 3, axis=2))
        h, w = u8.shape
        o = self.options
        grid = tiling.tile_grid(h, w, o.tile_px, o.overlap_px)
        tiles = [bgr[y0:y1, x0:x1] for x0, y0, x1, y1 in grid]
        instances: list[tiling.Instance] = []
        imgsz = int(o.imgsz or o.tile_px)
        for t, (masks, scores) in zip(grid, self.predict_tiles(tiles, imgsz), strict=True):
            instances += tiling.instances_from_tile(masks, scores, t, (h, w))
        if o.global_pass and len(grid) > 1 and not o.keep_scale:
            # Particles larger than the tile overlap are cut in every tile: a whole-region
            # pass (downscaled by the letterbox) contributes only those big ones.
            ((masks, scores),) = self.predict_tiles([bgr], imgsz)
            big = [
                i
                for i in tiling.instances_from_tile(masks, scores, (0, 0, w, h), (h, w))
                if 2 * np.sqrt(i.area / np.pi) > 0.75 * o.overlap_px
            ]
            instances += big
        labels, scores = tiling.merge_instances(instances, (h, w))
        full = np.zeros((h_img, w_img), np.uint32)
        full[r.y0 : r.y1, r.x0 : r.x1] = labels
        return full, scores


def pad_to(tile: np.ndarray, size_px: int) -> np.ndarray:
    """Pad an (H, W, 3) tile on the bottom/right to at least ``size_px`` square with its median.

    Ultralytics' letterbox scales every input up to ``imgsz``; a scale-normalised tile must
    reach the network at its own pixel scale, so small tiles are padded instead.
    """
    h, w = tile.shape[:2]
    if h >= size_px and w >= size_px:
        return tile
    fill = int(np.median(tile[:, :, 0]))
    out = np.full((max(h, size_px), max(w, size_px), tile.shape[2]), fill, tile.dtype)
    out[:h, :w] = tile
    return out


def _runtime_candidates(weights: Path) -> list[Path]:
    """Exported copies of ``weights`` made from these exact bytes, fastest CPU runtime first.

    An export whose sidecar names another version (stale after the weights changed) is
    skipped, so a forgotten re-export falls back to torch instead of running old weights.
    """
    exported = {"openvino": DEFAULT_OPENVINO, "onnx": DEFAULT_ONNX}
    if weights != DEFAULT_WEIGHTS or not weights.is_file():
        return []
    version = weights_version(weights)
    out = []
    for runtime in CPU_RUNTIMES:
        path = exported[runtime]
        if path.exists() and read_sidecar(path).get("source_version") == version:
            out.append(path)
    return out


@functools.lru_cache(maxsize=4)
def load_model(weights: Path) -> ParticleModel:
    """Weights chosen by the caller (a lab's registered model), loaded once per process and
    kept for the next run; raises when the file is missing or unloadable."""
    return ParticleModel(Path(weights))


@functools.cache
def load_default_model() -> ParticleModel | None:
    """The committed model, loaded once per process; ``None`` when absent or unloadable.

    ``SEMWEB_MODEL_WEIGHTS`` points at other weights. On CPU the committed weights run on the
    fastest runtime whose export is present and current (``CPU_RUNTIMES``), torch otherwise;
    ``SEMWEB_MODEL_BACKEND=torch`` forces torch, and so does ``SEMWEB_MODEL_DEVICE`` naming
    a CUDA device (the exports are CPU plans).
    """
    env = os.environ.get("SEMWEB_MODEL_WEIGHTS")
    device = os.environ.get("SEMWEB_MODEL_DEVICE", "cpu")
    candidates = [Path(env)] if env else []
    if os.environ.get("SEMWEB_MODEL_BACKEND", "auto") != "torch" and device == "cpu":
        candidates += _runtime_candidates(DEFAULT_WEIGHTS)
    candidates.append(DEFAULT_WEIGHTS)
    for path in candidates:
        if path.exists():
            try:
                return ParticleModel(path, InferenceOptions(device=device))
            except Exception:  # noqa: BLE001  (a broken model must not break classical runs)
                continue
    return None


EXPORT_FORMATS = {"onnx": ".onnx", "openvino": "_openvino_model"}


def export(weights: Path, fmt: str, imgsz: int = 512, out_dir: Path | None = None) -> Path:
    """Export ``.pt`` weights to ``fmt`` (``onnx`` or ``openvino``) for the CPU runtimes.

    The input stays static (``imgsz`` square; the batch dimension dynamic) so the runtime can
    plan its kernels once; tiles are padded to it (``keep_scale``) or letterboxed. The sidecar
    JSON is copied next to the result so version, threshold and input size follow the weights.
    onnx, onnxslim, onnxruntime (and openvino) must already be installed, else ultralytics
    would try pip. Returns the ``.onnx`` file or the ``*_openvino_model`` folder.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    yolo = _ultralytics()
    weights = Path(weights)
    kwargs: dict[str, Any] = dict(format=fmt, imgsz=imgsz, dynamic=True, device="cpu", batch=4)
    if fmt == "onnx":
        kwargs.update(simplify=True, opset=17)
    else:
        kwargs.update(half=True)  # fp16 weights on disk (half the size); the CPU computes f32
    produced = Path(yolo.YOLO(str(weights), task="segment").export(**kwargs))
    if out_dir is not None and produced.parent.resolve() != Path(out_dir).resolve():
        out_dir.mkdir(parents=True, exist_ok=True)
        dst = out_dir / produced.name
        if dst.exists():
            shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
        shutil.move(produced, dst)
        produced = dst
    meta = {**read_sidecar(weights), "source_version": weights_version(weights), "format": fmt}
    _sidecar_path(produced).write_text(json.dumps(meta, indent=1) + "\n")
    return produced
