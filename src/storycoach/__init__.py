"""storycoach: a local-first coach for behavioral interview stories."""

__version__ = "0.1.0"
