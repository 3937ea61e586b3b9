"""Trust: where to scribble next (uncertain regions) and whether a box is unlike the training data (OOD)."""
