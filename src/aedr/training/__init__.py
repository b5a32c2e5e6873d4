"""Training: the loop (trainer), its callbacks and the loss functions."""
