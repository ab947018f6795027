"""Does the scale read from a burned-in bar make the particles found a plausible size?

A figure's author picks a round bar length near the size of what the figure shows. On the 66
real figures labelled by eye (tests/analysis/data/real_scale_bars.csv, particle sizes from
the EMPS instance maps) the median particle's equivalent diameter is 0.04-5.3 bar lengths.
A reading far outside that (here: beyond 1/60-12 bar lengths, about twice the observed
extremes) means the "bar" was something else (a fragment, a frame line) or the particles are
not what the bar measures; and a median particle below 0.3 nm (smaller than an atom) or above
5 mm is no micrograph's particle whatever the bar says. Such a scale is kept but flagged: its
confidence drops below :data:`~analysis.calibration.scalebar.LOW_CONFIDENCE` and a warning
says why, so it is never used silently. The ratio needs no unit, so a bar label's unit
misread by 1000x is caught only by the absolute bounds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from analysis.result import Calibration

__all__ = ["MIN_PARTICLES", "check_scale_against_particles"]

MIN_PARTICLES = 5  # fewer particles say little about a typical size
RATIO_RANGE = (1 / 60, 12.0)  # median particle diameter / bar length
SIZE_RANGE_NM = (0.3, 5e6)  # median particle diameter
FLAGGED_CONFIDENCE = 0.3


def check_scale_against_particles(cal: Calibration, areas_px: Sequence[float]) -> Calibration:
    """``cal`` with ``details["particle_check"]`` and, when implausible, a warning and lower
    confidence. Only scales that come from a scale bar are checked (metadata and band text
    do not depend on what the figure's author drew)."""
    bar = cal.scale_bar
    if (
        cal.source != "scale_bar"
        or cal.pixel_size_nm is None
        or bar is None
        or bar.length_px <= 0
        or len(areas_px) < MIN_PARTICLES
    ):
        return cal
    diameters = sorted(2.0 * math.sqrt(a / math.pi) for a in areas_px if a > 0)
    if len(diameters) < MIN_PARTICLES:
        return cal
    median_px = diameters[len(diameters) // 2]
    ratio = median_px / bar.length_px
    median_nm = median_px * cal.pixel_size_nm
    problems = []
    if not RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1]:
        problems.append(
            f"the median particle ({median_px:.0f} px) is {ratio:.3g} times the scale bar "
            f"'{bar.label}' ({bar.length_px:.0f} px); figures show 0.04-5 bar lengths"
        )
    if not SIZE_RANGE_NM[0] <= median_nm <= SIZE_RANGE_NM[1]:
        problems.append(
            f"at {cal.pixel_size_nm:.4g} nm/px the median particle would be {median_nm:.3g} nm"
        )
    check = {
        "median_diameter_px": round(median_px, 2),
        "ratio_to_bar": round(ratio, 4),
        "median_diameter_nm": round(median_nm, 3),
        "plausible": not problems,
    }
    details = {**cal.details, "particle_check": check}
    if not problems:
        return dataclasses.replace(cal, details=details)
    warning = "check the scale: " + "; ".join(problems)
    return dataclasses.replace(
        cal,
        confidence=min(cal.confidence, FLAGGED_CONFIDENCE),
        warnings=(*cal.warnings, warning),
        details=details,
    )
