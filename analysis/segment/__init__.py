"""Particle segmentation: classical thresholding + watershed, shared post-processing steps,
and (separately, in :mod:`analysis.segment.model`) the neural model adapter."""
