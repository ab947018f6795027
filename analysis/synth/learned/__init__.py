"""Learned synthesis: a mask-conditioned GAN that paints exact masks in a lab's own style.

A lab's approved runs are (micrograph, exact instance mask) pairs. A conditional generator
trained on a few of them turns cheap procedural masks (:mod:`analysis.synth`) into micrographs
that look like that lab's, so each new training image comes with an exact mask for free.

Modules: :mod:`.labels` (instance map -> class map the generator reads, numpy),
:mod:`.stability` (collapse and realism statistics, numpy), :mod:`.nets` (generator and
discriminator, torch), :mod:`.train` (resumable training with a wall-time budget, torch) and
:mod:`.sample` (load a trained model, paint masks, write a training set, torch).

This package file imports nothing heavy: the torch modules are imported by name when needed,
so ``import analysis.synth.learned`` stays cheap for the CLI.
"""
