"""Learned synthesis on tiny data: training runs and resumes, masks stay exact, collapse shows.

Networks here are a few thousand parameters on 32-64 px crops and train for a step or two:
the tests check the machinery (checkpoints, geometry, statistics), not image quality.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from analysis.cli import main  # noqa: E402
from analysis.synth import generate  # noqa: E402
from analysis.synth.learned import stability  # noqa: E402
from analysis.synth.learned.labels import EDGE, INTERIOR, class_map  # noqa: E402
from analysis.synth.learned.nets import Generator  # noqa: E402
from analysis.synth.learned.sample import (  # noqa: E402
    LearnedModel,
    assess_model,
    procedural_mask,
    write_training_set,
)
from analysis.synth.learned.train import Pair, TrainConfig, train  # noqa: E402

TINY = TrainConfig(crop_px=32, batch_masks=1, g_channels=8, d_channels=8, d_scales=1)


def _pairs(n: int = 3, size: int = 64) -> list[Pair]:
    out = []
    for s in range(n):
        m = generate(
            s,
            width=size,
            height=size,
            n_particles=4,
            median_ecd_px=14,
            data_bar=False,
            figure_marks=False,
            style="tem",
        )
        out.append(Pair(f"p{s}", m.image, m.labels.astype(np.int32)))
    return out


def test_class_map_marks_rims_and_the_seam_between_touching_particles() -> None:
    lab = np.zeros((12, 16), np.int32)
    lab[2:10, 2:8] = 1
    lab[2:10, 8:14] = 2  # touches particle 1 along x = 7|8
    cls = class_map(lab, edge_px=1)
    assert cls[0, 0] == 0
    assert cls[5, 4] == INTERIOR and cls[5, 11] == INTERIOR
    assert cls[5, 7] == EDGE and cls[5, 8] == EDGE  # the seam, though no background is there
    assert cls[2, 4] == EDGE and cls[5, 2] == EDGE
    assert ((cls > 0) == (lab > 0)).all()


def test_training_writes_a_checkpoint_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    pairs = _pairs()
    r1 = train(pairs, out, hours=1, config=TINY, max_steps=2, assess=False)
    assert (r1.steps, r1.session_steps) == (2, 2)
    ck = torch.load(out, weights_only=False)
    assert ck["step"] == 2 and len(ck["history"]) == 2
    assert ck["opt_g"]["state"] and ck["opt_d"]["state"]  # Adam moments saved for resuming
    g_before = {k: v.clone() for k, v in ck["g"].items()}

    other = TrainConfig(crop_px=48)  # ignored: a resumed training keeps its own config
    r2 = train(pairs, out, hours=1, config=other, max_steps=3)
    assert (r2.steps, r2.session_steps) == (5, 3)
    ck = torch.load(out, weights_only=False)
    assert ck["config"]["crop_px"] == 32
    assert [h["step"] for h in ck["history"]] == [1, 2, 3, 4, 5]
    assert any(not torch.equal(g_before[k], ck["g"][k]) for k in g_before)
    with (tmp_path / "m.pt.losses.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 and {"d_real", "d_fake", "g_adv", "g_fm"} <= set(rows[0])
    assert (tmp_path / "m.pt.samples.png").exists()
    report = json.loads((tmp_path / "m.pt.stability.json").read_text())
    assert report["step"] == 5 and isinstance(report["collapsed"], bool)


def test_zero_hours_trains_nothing_but_still_saves(tmp_path: Path) -> None:
    r = train(_pairs(1), tmp_path / "m.pt", hours=0, config=TINY, assess=False)
    assert r.steps == 0 and (tmp_path / "m.pt").exists()


def test_painting_keeps_the_mask_shape_and_is_deterministic(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    train(_pairs(), out, hours=1, config=TINY, max_steps=1, assess=False)
    model = LearnedModel.load(out)
    lab = procedural_mask(3, 50)  # 50 px: not a multiple of 8, padded internally
    a, b, c = model.paint(lab, seed=1), model.paint(lab, seed=1), model.paint(lab, seed=2)
    assert a.shape == lab.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_generated_training_set_carries_the_exact_procedural_masks(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    train(_pairs(), out, hours=1, config=TINY, max_steps=1, assess=False)
    manifest = write_training_set(out, 2, tmp_path / "set", size_px=64, seed=0)
    assert manifest["synthetic"] is True and len(manifest["names"]) == 2
    stats = LearnedModel.load(out).mask_stats
    for name in manifest["names"]:
        seed = int(name.split("_")[1])
        mask = cv2.imread(str(tmp_path / "set/masks/train" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(mask, procedural_mask(seed, 64, stats))
        img = cv2.imread(str(tmp_path / "set/images/train" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert img.shape == (64, 64)
        lines = (tmp_path / "set/labels/train" / f"{name}.txt").read_text().splitlines()
        assert len(lines) == len(np.unique(mask)) - 1


def test_collapse_detector_fires_on_a_constant_generator_only() -> None:
    pairs = _pairs(4)
    collapsed = Generator(8)
    with torch.no_grad():
        collapsed.head.weight.zero_()
        collapsed.head.bias.fill_(0.3)  # the same grey frame whatever the mask and noise
    report = assess_model(LearnedModel(collapsed, {}, {}), pairs)
    assert report.collapsed and report.noise_ignored
    assert report.diversity_masks == 0.0

    diverse = [
        (m.image, m.labels)
        for m in (
            generate(
                100 + s,
                width=64,
                height=64,
                style="tem",
                n_particles=4,
                median_ecd_px=14,
                data_bar=False,
                figure_marks=False,
            )
            for s in range(4)
        )
    ]
    ok = stability.assess([(p.image, p.labels) for p in pairs], diverse)
    assert not ok.collapsed and ok.diversity_ratio > 0.5


def test_assessment_takes_frames_of_different_sizes() -> None:
    # EMPS frames are 512-1088 px figure crops: `synth learn` on them used to crash in its
    # final assessment after the checkpoint was written.
    frames = [
        generate(
            200 + s, width=64 + 6 * s, height=64, n_particles=4, data_bar=False, figure_marks=False
        )
        for s in range(3)
    ]
    pairs = [(m.image, m.labels) for m in frames]
    report = stability.assess(pairs, pairs[::-1])
    assert report.diversity_real > 0
    assert report.diversity_masks == pytest.approx(report.diversity_real)
    wide, narrow = stability.as_float(frames[2].image), stability.as_float(frames[0].image)
    assert stability.diversity([wide, narrow]) == pytest.approx(
        stability.pair_difference(wide, narrow)
    )


def test_statistics_are_zero_for_identical_sets_and_measure_a_shift() -> None:
    imgs = [p.image for p in _pairs(2)]
    labs = [p.labels for p in _pairs(2)]
    assert stability.intensity_distance(imgs, imgs) == 0.0
    assert stability.spectrum_distance(imgs, imgs) == 0.0
    assert stability.edge_profile_distance(imgs, labs, imgs, labs) == 0.0
    shifted = [np.clip(stability.as_float(i) + 0.1, 0, 10) for i in imgs]
    assert stability.intensity_distance(imgs, shifted) == pytest.approx(0.1)
    assert stability.edge_profile_distance(imgs, labs, shifted, labs) == pytest.approx(0.1)


def test_edge_profile_of_a_disc_steps_from_particle_to_background_grey() -> None:
    lab = np.zeros((40, 40), np.int32)
    cv2.circle(lab, (20, 20), 10, 1, -1)
    img = np.where(lab > 0, 0.2, 0.8)
    prof = stability.edge_profile([img], [lab], max_px=3)
    assert prof[:3] == pytest.approx([0.2] * 3) and prof[-3:] == pytest.approx([0.8] * 3)


def test_cli_learns_resumes_and_generates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for d in ("images", "labels"):
        (tmp_path / d).mkdir()
    for p in _pairs(2):
        cv2.imwrite(str(tmp_path / "images" / f"{p.name}.png"), p.image)
        cv2.imwrite(str(tmp_path / "labels" / f"{p.name}.png"), p.labels.astype(np.uint16))
    learn = [
        "synth",
        "learn",
        "--images",
        str(tmp_path / "images"),
        "--labels",
        str(tmp_path / "labels"),
        "--out",
        str(tmp_path / "m.pt"),
        "--hours",
        "1",
        "--max-steps",
        "1",
        "--crop-px",
        "32",
        "--channels",
        "8",
    ]
    assert main(learn) == 0
    assert main(learn) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["steps"] == 2 and out["session_steps"] == 1
    assert "diversity_ratio" in out["stability"]
    gen = [
        "synth",
        "generate",
        "--model",
        str(tmp_path / "m.pt"),
        "--n",
        "2",
        "--out",
        str(tmp_path / "set"),
        "--size-px",
        "48",
    ]
    assert main(gen) == 0
    assert len(list((tmp_path / "set/images/train").glob("*.png"))) == 2
    assert json.loads((tmp_path / "set/manifest.json").read_text())["synthetic"] is True


def test_cli_refuses_a_negative_budget(tmp_path: Path) -> None:
    args = [
        "synth",
        "learn",
        "--images",
        str(tmp_path),
        "--labels",
        str(tmp_path),
        "--out",
        str(tmp_path / "m.pt"),
        "--hours",
        "-1",
    ]
    assert main(args) == 2
    assert not (tmp_path / "m.pt").exists()


def _train_until_two_steps_seen(out: Path, cfg: TrainConfig, on_step, seen: list):
    """Up to 10 steps, stopped by ``should_stop`` once ``on_step`` has seen two."""
    return train(
        _pairs(),
        out,
        hours=1,
        config=cfg,
        max_steps=10,
        assess=False,
        on_step=on_step,
        should_stop=lambda: len(seen) >= 2,
    )


def test_step_callback_reports_each_step_and_should_stop_ends_the_session(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    seen: list[tuple[int, bool]] = []
    cfg = TrainConfig(**{**TINY.__dict__, "checkpoint_every_s": 0.0})

    def on_step(step: int, losses: dict[str, float], saved: bool) -> None:
        assert set(losses) >= {"d_real", "d_fake", "g_adv"}
        seen.append((step, saved))

    r = _train_until_two_steps_seen(out, cfg, on_step, seen)
    assert r.steps == 2 and seen == [(1, True), (2, True)]
    assert out.exists() and out.with_name("m.pt.samples.png").exists()


def _checkpoint_step(out: Path) -> int:
    return torch.load(out, weights_only=False)["step"] if out.exists() else 0


@pytest.mark.parametrize("every_s", [0.0, 3600.0])
def test_a_step_is_reported_saved_before_the_checkpoint_holds_it(
    tmp_path: Path, every_s: float
) -> None:
    # A worker records a saved step in its database from on_step: were the checkpoint written
    # first, a kill in between would resume past a step the loss history never got.
    out = tmp_path / "m.pt"
    cfg = TrainConfig(**{**TINY.__dict__, "checkpoint_every_s": every_s})
    seen: list[tuple[int, bool]] = []
    reported_saved = [0]

    def on_step(step: int, losses: dict[str, float], saved: bool) -> None:
        assert _checkpoint_step(out) == reported_saved[-1] < step
        seen.append((step, saved))
        if saved:
            reported_saved.append(step)

    train(_pairs(), out, hours=1, config=cfg, max_steps=3, assess=False, on_step=on_step)
    # The last step of a session is always reported saved, and only then written.
    assert seen[-1] == (3, True)
    assert every_s or seen == [(1, True), (2, True), (3, True)]
    assert not every_s or seen == [(1, False), (2, False), (3, True)]
    assert _checkpoint_step(out) == reported_saved[-1] == 3


def test_a_step_its_caller_could_not_record_is_trained_again_on_resume(tmp_path: Path) -> None:
    # A worker killed (or no longer owning the job) while recording step 3: the checkpoint
    # stays at step 2 and the next session trains and reports step 3 again, so a history
    # rebuilt from the reports has no gap.
    out = tmp_path / "m.pt"
    cfg = TrainConfig(**{**TINY.__dict__, "checkpoint_every_s": 0.0})
    pairs = _pairs()

    class Killed(Exception):
        pass

    def dies_at_3(step: int, losses: dict[str, float], saved: bool) -> None:
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        train(pairs, out, hours=1, config=cfg, max_steps=5, assess=False, on_step=dies_at_3)
    assert _checkpoint_step(out) == 2
    seen: list[int] = []
    r = train(pairs, out, hours=1, max_steps=2, assess=False, on_step=lambda s, *_: seen.append(s))
    assert seen == [3, 4] and r.steps == 4
    assert [h["step"] for h in torch.load(out, weights_only=False)["history"]] == [1, 2, 3, 4]


def test_should_stop_does_not_write_steps_not_reported_saved(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    cfg = TrainConfig(**{**TINY.__dict__, "checkpoint_every_s": 3600.0})
    seen: list[tuple[int, bool]] = []
    r = _train_until_two_steps_seen(
        out, cfg, lambda step, losses, saved: seen.append((step, saved)), seen
    )
    assert r.steps == 2 and seen == [(1, False), (2, False)]
    assert not out.exists()  # the job stopped being the caller's: nothing it did not record
