"""Paper-vs-ours figures: per-benchmark scores, training curves over seeds, the phase grid, grader disagreement."""

REGISTRY = {}
