"""Training of the default box segmenters: data preparation, sampling, the training loop, box-only evaluation."""
