"""Synthetic SEM micrographs with exact instance masks, deterministic by seed.

Used to train the particle model (with real EMPS images) and to score segmentation where the
truth is known exactly: ``generate(seed)`` always gives the same image and labels.
"""

from analysis.synth.generate import STYLES, SynthMicrograph, generate
from analysis.synth.shapes import MORPHOLOGIES

__all__ = ["MORPHOLOGIES", "STYLES", "SynthMicrograph", "generate"]
