"""Reports written to files: the coverage map as Markdown or as a self-contained HTML page."""
