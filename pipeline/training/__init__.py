"""Training runs: train, reproduce, sweep and ensemble, with the configuration, tracking
and progress reporting they share."""
