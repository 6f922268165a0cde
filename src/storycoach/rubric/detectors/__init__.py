"""Detectors: the deterministic checks a rubric file names in its `detector` field."""

from storycoach.rubric.detectors import agency, dates, delta, grader, names, probes, structure
from storycoach.rubric.detectors.base import REGISTRY, Context, Detector, Hit

__all__ = [
    "REGISTRY",
    "Context",
    "Detector",
    "Hit",
    "agency",
    "dates",
    "delta",
    "grader",
    "names",
    "probes",
    "structure",
]
