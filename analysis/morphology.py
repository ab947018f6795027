"""Shape class of each particle from its 2-D shape descriptors (see :mod:`analysis.measure`).

The rule, applied in this order (first match wins):

1. **rod** (rods and wires): ``aspect_ratio ≥ 2.5`` and ``solidity ≥ 0.7``. Clearly
   elongated; the solidity floor still admits gently curved wires but not sprawling chains.
2. **agglomerate**: ``solidity < 0.85``. Deep concavities mean several primary particles
   fused or clustered (or a failed split); one primary particle is (nearly) convex.
3. **cube**: ``aspect_ratio < 1.6``, ``rectangularity ≥ 0.87`` and ``solidity ≥ 0.9``. A
   convex square or near-square projection fills its minimum bounding rectangle (1.0; a
   disc fills π/4 = 0.785).
4. **sphere**: ``aspect_ratio < 1.4`` and ``circularity ≥ 0.8``. A round projection;
   slightly oval outlines (AR up to 1.4) are still spheres seen with some noise or tilt.
5. **plate**: ``solidity ≥ 0.9``. Convex but neither round, square nor long: triangles,
   hexagons with visible facets, rectangular or oval platelets (AR 1.4–2.5).
6. **irregular**: everything else (0.85 ≤ solidity < 0.9, not round, not elongated).

Thresholds come from the ideal shapes rendered on the pixel grid (disc: circularity ≥ 0.9,
rectangularity 0.76–0.79; square: rectangularity 1.0; equilateral triangle: circularity
0.6) with margins for outline noise. Particles under ~50 px carry little shape information:
their descriptors are dominated by pixelation, so :data:`MIN_RELIABLE_AREA_PX` is exposed for
callers that want to grey them out. A 2-D projection cannot tell a sphere from a disc-shaped
plate lying flat, nor a cube from a square plate: the class names follow the usual reading of
SEM images and are a screening aid, not a 3-D measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["MIN_RELIABLE_AREA_PX", "SHAPE_CLASSES", "classify", "classify_one"]

SHAPE_CLASSES = ("sphere", "cube", "rod", "plate", "irregular", "agglomerate")
MIN_RELIABLE_AREA_PX = 50

ROD_MIN_ASPECT = 2.5
ROD_MIN_SOLIDITY = 0.7
AGGLOMERATE_MAX_SOLIDITY = 0.85
CUBE_MAX_ASPECT = 1.6
CUBE_MIN_RECTANGULARITY = 0.87
SPHERE_MAX_ASPECT = 1.4
SPHERE_MIN_CIRCULARITY = 0.8
PLATE_MIN_SOLIDITY = 0.9


def classify(columns: Mapping[str, Sequence[float] | np.ndarray | None]) -> list[str]:
    """Shape class of each particle, given measurement columns.

    Parameters
    ----------
    columns : mapping with at least ``aspect_ratio``, ``solidity``, ``rectangularity`` and
        ``circularity`` (equal-length sequences), as produced by
        :func:`analysis.measure.measure_particles`.

    Returns
    -------
    list of class names from :data:`SHAPE_CLASSES`, one per particle.
    """
    ar = np.asarray(columns["aspect_ratio"], dtype=np.float64)
    sol = np.asarray(columns["solidity"], dtype=np.float64)
    rect = np.asarray(columns["rectangularity"], dtype=np.float64)
    circ = np.asarray(columns["circularity"], dtype=np.float64)
    conditions = [
        (ar >= ROD_MIN_ASPECT) & (sol >= ROD_MIN_SOLIDITY),
        sol < AGGLOMERATE_MAX_SOLIDITY,
        (ar < CUBE_MAX_ASPECT) & (rect >= CUBE_MIN_RECTANGULARITY) & (sol >= PLATE_MIN_SOLIDITY),
        (ar < SPHERE_MAX_ASPECT) & (circ >= SPHERE_MIN_CIRCULARITY),
        sol >= PLATE_MIN_SOLIDITY,
    ]
    names = ["rod", "agglomerate", "cube", "sphere", "plate"]
    result = np.select(conditions, names, default="irregular")
    return [str(x) for x in result.tolist()]


def classify_one(
    *, aspect_ratio: float, solidity: float, rectangularity: float, circularity: float
) -> str:
    """Shape class of one particle (same rule as :func:`classify`)."""
    return classify(
        {
            "aspect_ratio": [aspect_ratio],
            "solidity": [solidity],
            "rectangularity": [rectangularity],
            "circularity": [circularity],
        }
    )[0]
