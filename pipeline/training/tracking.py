"""Metrics sinks: wandb (offline by default) guarded so it can never stop training."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from snnpipe.pipeline.errors import PipelineError

WANDB_MODES = ("online", "offline", "disabled")


def default_wandb_mode() -> str:
    mode = os.environ.get("WANDB_MODE", "offline")
    return mode if mode in WANDB_MODES else "offline"


def wandb_mode(given: str | None) -> str:
    """The mode of `--wandb-mode` (None: $WANDB_MODE, else offline), checked."""
    mode = given or default_wandb_mode()
    if mode not in WANDB_MODES:
        raise PipelineError(f"--wandb-mode {mode!r}: choose one of {', '.join(WANDB_MODES)}")
    return mode


class WandbTracker:
    """Thin wrapper over a wandb run: any wandb failure becomes one warning, then silence."""

    def __init__(self, mode: str, run_dir: Path, config: dict, name: str,
                 project: str = "snnpipe", resume_id: str | None = None,
                 group: str | None = None) -> None:
        self.run = None
        self.warning: str | None = None
        self.run_id: str | None = None
        if mode == "disabled":
            return
        try:
            import wandb
            self._wandb = wandb
            os.environ.setdefault("WANDB_SILENT", "true")
            self.run = wandb.init(project=project, name=name, dir=str(run_dir), mode=mode,
                                  config=config, id=resume_id, resume="allow" if resume_id
                                  else None, group=group,
                                  settings=wandb.Settings(init_timeout=60))
            self.run_id = self.run.id
        except Exception as exc:  # no account, no network, wandb bug: keep training
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.warning = f"wandb disabled for this run: {type(exc).__name__}: {exc}".splitlines()[0]
        warnings.warn(self.warning, RuntimeWarning, stacklevel=3)
        self.run = None

    def log(self, metrics: dict, step: int) -> None:
        if self.run is None:
            return
        try:
            self.run.log(metrics, step=step)
        except Exception as exc:
            self._fail(exc)

    def log_network(self, net, step: int) -> None:
        """Weight histogram and one receptive-field image per column (28 x 28, signed).
        `net` is an engine Network; nothing is computed when wandb is off."""
        if self.run is None:
            return
        try:
            wb = self._wandb
            weights, fields = net.weights, net.receptive_fields()
            live = weights[weights != 0]
            payload = {"weights/histogram": wb.Histogram(live if live.size else [0])}
            side = int(round(np.sqrt(fields.shape[1])))
            if side * side == fields.shape[1]:
                for c, field in enumerate(fields):
                    img = field.reshape(side, side).astype(float)
                    scale = max(np.abs(img).max(), 1.0)
                    rgb = np.zeros((side, side, 3), np.uint8)
                    rgb[..., 0] = np.clip(-img / scale, 0, 1) * 255   # red: negative
                    rgb[..., 1] = np.clip(img / scale, 0, 1) * 255    # green: positive
                    payload[f"receptive_field/column_{c}"] = wb.Image(rgb)
            self.run.log(payload, step=step)
        except Exception as exc:
            self._fail(exc)

    def finish(self) -> None:
        if self.run is None:
            return
        try:
            self.run.finish()
        except Exception as exc:
            self._fail(exc)
