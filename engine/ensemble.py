"""Variant (inference only): an ensemble of networks is one bigger network.

A column's spike count is a sum over its neurons, and a neuron's spikes depend only on its
own slots. So summing the counts of K networks (snapshots of one run, or runs with
different seeds) is exactly the count of one network whose columns hold all their neurons
side by side: K * N neurons per column. `stack` builds that network, so an ensemble is
scored, predicted with and budgeted (neurons per column) like any other network, and the
decision rule (strict winner, ties are no decision) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .config import Config

# What the forward pass reads: members must agree on these to be summed.
FORWARD_FIELDS = ("columns", "slots", "receptors", "levels", "spike_threshold")


def stack(configs: Sequence[Config], receptors: Sequence[np.ndarray],
          weights: Sequence[np.ndarray]) -> tuple[Config, np.ndarray, np.ndarray]:
    """(config, receptors, weights) of the network whose spike counts are the members' sum.

    Every member must share FORWARD_FIELDS; the result keeps the first member's other
    settings, with `neurons` = the members' total."""
    if not configs or not len(configs) == len(receptors) == len(weights):
        raise ValueError("stack needs one config, receptor array and weight array per member")
    first = configs[0]
    for k, cfg in enumerate(configs[1:], start=1):
        for name in FORWARD_FIELDS:
            if getattr(cfg, name) != getattr(first, name):
                raise ValueError(f"member {k} has {name} = {getattr(cfg, name)!r}, member 0 "
                                 f"has {getattr(first, name)!r}: an ensemble's members must "
                                 f"share {', '.join(FORWARD_FIELDS)}")
    total = sum(cfg.neurons for cfg in configs)
    cfg = first.replace(neurons=total)
    rec = np.concatenate([np.asarray(r, np.int32) for r in receptors], axis=1)
    w = np.concatenate([np.asarray(x).astype(cfg.weight_dtype) for x in weights], axis=1)
    return cfg, rec, w
