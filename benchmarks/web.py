"""Web benchmarks: `python -m benchmarks.web` (wired into `make bench`).

1. End-to-end seconds from upload to results: a 1024 × 768 synthetic micrograph is stored with
   `micrograph_create` + `run_create` (what the upload view does) while a real Celery worker
   runs; the clock stops when the run is `succeeded` (particles and summary committed).
2. Review page time to interactive with 5 000 particles on a 4096 × 3072 image, in real
   Chromium: navigation start → outlines, histogram and summary drawn (`window.__reviewReadyMs`);
   also one reject click → count updated, and one zoom redraw.

Everything runs in a throwaway folder (SQLite + the filesystem broker, unless DATABASE_URL /
CELERY_BROKER_URL are set) with a worker and a web server as subprocesses. Prints figures.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SEMWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _setup(var_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "SEMWEB_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "semweb.settings.local",
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "false",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return env


def _people():
    from django.contrib.auth import get_user_model

    from semweb.catalogue.models import Project, Sample
    from semweb.labs.models import Lab, Membership, Role

    lab = Lab.objects.create(name="Bench lab", slug=f"bench-{int(time.time())}")
    user = get_user_model().objects.create_user(f"bench{lab.pk}", password="bench-pw-1")
    Membership.objects.create(user=user, lab=lab, role=Role.ADMIN)
    project = Project.objects.create(lab=lab, name="Bench", created_by=user)
    sample = Sample.objects.create(project=project, name="Bench sample", created_by=user)
    return user, sample


def _png(array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def bench_upload_to_results(env: dict[str, str], var_dir: Path, repeats: int) -> list[float]:
    from django.db import transaction

    from analysis.synth import generate
    from semweb.analyses.models import AnalysisRun, RunStatus
    from semweb.analyses.services import run_create
    from semweb.catalogue.services import micrograph_create

    user, sample = _people()
    worker = _start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "semweb",
            "worker",
            "-Q",
            "cpu,gpu",
            "-c",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        env,
        var_dir / "worker.log",
    )
    times = []
    try:
        time.sleep(1.0)
        for i in range(repeats + 1):  # the first one warms the worker (imports, caches)
            synth = generate(
                100 + i, width=1024, height=768, style="sem", data_bar=True, jpeg=False
            )
            data = _png(synth.image)
            t0 = time.perf_counter()
            with transaction.atomic():
                m = micrograph_create(
                    sample=sample, user=user, data=data, filename=f"bench-{i}.png"
                )
                run = run_create(micrograph=m, user=user, method="classical")
            deadline = time.monotonic() + 300
            while True:
                status = AnalysisRun.objects.filter(pk=run.pk).values_list("status", flat=True)[0]
                if status in {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}:
                    break
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError(f"run {run.pk} not finished; see {var_dir}/worker.log")
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            if status != RunStatus.SUCCEEDED:
                raise RuntimeError(AnalysisRun.objects.get(pk=run.pk).error)
            if i:
                times.append(elapsed)
    finally:
        _stop(worker)
    return times


def _circle(cx: float, cy: float, r: float, n: int = 24) -> list[list[float]]:
    return [
        [
            round(cx + r * math.cos(2 * math.pi * k / n), 1),
            round(cy + r * math.sin(2 * math.pi * k / n), 1),
        ]
        for k in range(n)
    ]


def _big_run(user, sample, n: int = 5000, width: int = 4096, height: int = 3072):
    """A succeeded run with `n` particles on a `width` × `height` micrograph (made directly:
    this measures the page, not the engine)."""
    import cv2
    import numpy as np
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from semweb.analyses.models import AnalysisRun, Particle, RunStatus
    from semweb.analyses.selectors import summarize_values
    from semweb.catalogue.models import Micrograph

    rng = np.random.default_rng(0)
    img = (rng.normal(60, 12, (height, width))).clip(0, 255).astype(np.uint8)
    cols = int(math.ceil(math.sqrt(n * width / height)))
    step = width / cols
    centres = [((k % cols + 0.5) * step, (k // cols + 0.5) * step) for k in range(n)]
    radii = np.exp(rng.normal(math.log(12), 0.25, n)).clip(4, step / 2.2)
    for (cx, cy), r in zip(centres, radii, strict=True):
        cv2.circle(img, (int(cx), int(cy)), int(r), 200, -1)
    data = _png(img)
    import hashlib

    m = Micrograph(
        sample=sample,
        sha256=hashlib.sha256(data).hexdigest(),
        original_filename="bench-5000.png",
        file_size=len(data),
        format="PNG",
        width=width,
        height=height,
        bit_depth=8,
        uploaded_by=user,
    )
    m.original.save("bench-5000.png", ContentFile(data), save=False)
    m.save()
    ps = 2.0
    run = AnalysisRun.objects.create(
        micrograph=m,
        created_by=user,
        method="classical",
        status=RunStatus.SUCCEEDED,
        progress=1.0,
        stage="done",
        finished_at=timezone.now(),
        pixel_size_nm=ps,
        calibration={"pixel_size_nm": ps, "source": "manual", "confidence": 1.0},
        analysed_region={"x0": 0, "y0": 0, "x1": width, "y1": height},
        particle_count=n,
    )
    classes = ["sphere", "cube", "rod", "plate", "irregular", "agglomerate"]
    rows = []
    for k, ((cx, cy), r) in enumerate(zip(centres, radii, strict=True), start=1):
        area = math.pi * r * r
        ecd = 2 * r
        rows.append(
            Particle(
                run=run,
                index=k,
                polygon=_circle(cx, cy, r),
                bbox_x0=int(cx - r),
                bbox_y0=int(cy - r),
                bbox_x1=int(cx + r) + 1,
                bbox_y1=int(cy + r) + 1,
                measurements={
                    "area_px": area,
                    "area_nm2": area * ps * ps,
                    "ecd_px": ecd,
                    "ecd_nm": ecd * ps,
                    "feret_max_px": ecd,
                    "feret_max_nm": ecd * ps,
                    "feret_min_nm": ecd * ps * 0.95,
                    "aspect_ratio": 1.05,
                    "circularity": 0.97,
                    "solidity": 0.99,
                    "perimeter_nm": math.pi * ecd * ps,
                    "centroid_x_px": cx,
                    "centroid_y_px": cy,
                },
                ecd_nm=ecd * ps,
                area_px=area,
                shape_class=classes[k % len(classes)],
                score=float(rng.uniform(0.5, 1.0)),
            )
        )
    Particle.objects.bulk_create(rows, batch_size=1000)
    run.summary = summarize_values([p.ecd_nm for p in rows])
    run.save(update_fields=["summary"])
    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_review_page(env: dict[str, str], var_dir: Path, repeats: int) -> dict[str, list[float]]:
    import urllib.request

    from playwright.sync_api import sync_playwright

    user, sample = _people()
    run = _big_run(user, sample)
    port = _free_port()
    server = _start(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        env,
        var_dir / "web.log",
    )
    base = f"http://127.0.0.1:{port}"
    keys = (
        "tti_ms",
        "data_ms",
        "overlay_ms",
        "reject_ms",
        "reject_done_ms",
        "zoom_ms",
        "payload_kb",
    )
    out: dict[str, list[float]] = {k: [] for k in keys}
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"{base}/login/")
            page.fill("input[name=username]", user.username)
            page.fill("input[name=password]", "bench-pw-1")
            page.click("main form button[type=submit]")
            page.wait_for_selector("[data-testid=whoami]")
            # Warm-up: renders and caches the display PNG and plotly.min.js once.
            page.goto(f"{base}/runs/{run.pk}/")
            page.wait_for_selector("body[data-review-ready='1']")
            for _ in range(repeats):
                page.goto(f"{base}/runs/{run.pk}/")
                page.wait_for_selector("body[data-review-ready='1']")
                out["tti_ms"].append(page.evaluate("() => window.__reviewReadyMs"))
                t = page.evaluate("() => window.__reviewTimings")
                out["data_ms"].append(t["data_ms"])
                out["overlay_ms"].append(t["overlay_ms"] - t["data_ms"])
                out["payload_kb"].append(
                    page.evaluate(
                        "() => performance.getEntriesByType('resource').filter(e => "
                        "e.name.includes('particles.json')).map(e => e.transferSize)[0] / 1024"
                    )
                )
                # One reject click: click → POST → statistics and outlines redrawn.
                ms = page.evaluate("""() => new Promise((resolve) => {
                    const el = document.getElementById('overlay');
                    const tr = el.data[el.data.length - 1];
                    const n0 = document.querySelector('[data-testid=n-accepted]').textContent;
                    const t0 = performance.now();
                    const obs = new MutationObserver(() => {
                      const n = document.querySelector('[data-testid=n-accepted]').textContent;
                      if (n !== n0) { obs.disconnect(); resolve(performance.now() - t0); }
                    });
                    obs.observe(document.getElementById('summary').parentNode,
                                {subtree: true, childList: true, characterData: true});
                    el.emit('plotly_click', {points: [{curveNumber: el.data.length - 1,
                                                       pointIndex: 0}]});
                  })""")
                out["reject_ms"].append(ms)
                page.wait_for_function("() => window.__reviewLastEdit")
                edit = page.evaluate("() => window.__reviewLastEdit")
                out["reject_done_ms"].append(sum(edit.values()))
                page.evaluate("() => { window.__reviewLastEdit = null; }")
                out["zoom_ms"].append(
                    page.evaluate("""async () => {
                    const el = document.getElementById('overlay');
                    const t0 = performance.now();
                    await Plotly.relayout(el, {'xaxis.range': [1000, 2000],
                                               'yaxis.range': [1750, 1000]});
                    return performance.now() - t0; }""")
                )
                page.evaluate(f"""() => fetch('/runs/{run.pk}/accept', {{method: 'POST',
                    headers: {{'Content-Type': 'application/json', 'X-CSRFToken':
                    document.querySelector('meta[name=csrf-token]').content}},
                    body: JSON.stringify({{indices: [1], accepted: true}})}})""")
            browser.close()
    finally:
        _stop(server)
    return out


def _fmt(values: list[float], unit: str) -> str:
    if not values:
        return "n/a"
    values = sorted(values)
    return (
        f"median {values[len(values) // 2]:.2f} {unit} (min {values[0]:.2f}, "
        f"max {values[-1]:.2f}, n={len(values)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-upload", action="store_true")
    parser.add_argument("--skip-review", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON line too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="semweb-bench-") as tmp:
        var_dir = Path(tmp)
        env = _setup(var_dir)
        results: dict[str, object] = {}
        if not args.skip_upload:
            t = bench_upload_to_results(env, var_dir, args.repeats)
            results["upload_to_results_s"] = t
            print(f"upload → results, 1024×768 classical, running worker: {_fmt(t, 's')}")
        if not args.skip_review:
            if not Path(CHROMIUM).exists():
                print(f"review page: skipped ({CHROMIUM} not installed)")
            else:
                r = bench_review_page(env, var_dir, args.repeats)
                results.update(r)
                print(
                    f"review page, 5000 particles on 4096×3072: time to interactive "
                    f"{_fmt(r['tti_ms'], 'ms')}"
                )
                print(
                    f"  of which: data fetched at {_fmt(r['data_ms'], 'ms')}; "
                    f"outlines drawn in {_fmt(r['overlay_ms'], 'ms')}"
                )
                print(
                    f"  reject click → count updated: {_fmt(r['reject_ms'], 'ms')}; "
                    f"→ outlines and charts redrawn: {_fmt(r['reject_done_ms'], 'ms')}"
                )
                print(f"  zoom redraw: {_fmt(r['zoom_ms'], 'ms')}")
                print(f"  particles.json transferred: {_fmt(r['payload_kb'], 'KiB')}")
        if args.json:
            print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
