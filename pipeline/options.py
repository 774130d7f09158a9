"""Option checks that more than one stage shares: `--workers`, and what `--resume` accepts
(the run's own options stay; `latest` is the newest run of the command's kind)."""

from __future__ import annotations

import os
from pathlib import Path

from snnpipe.pipeline.errors import PipelineError
from snnpipe.stores import runfolder

RUNS_ROOT = Path("runs")        # where `--resume latest` looks


def check_workers(workers: int | None, scheduler: str | None = None, *,
                  local_cluster: bool = False) -> None:
    """--workers N: at least 1. With `local_cluster` (the command starts its own
    LocalCluster, as a sweep does), not together with --scheduler, and at most one per
    core."""
    if workers is None:
        return
    if workers < 1:
        raise PipelineError(f"--workers {workers}: must be >= 1")
    if not local_cluster:
        return
    if scheduler:
        raise PipelineError("--workers starts a LocalCluster; drop it with --scheduler")
    cores = os.cpu_count() or 1
    if workers > cores:
        raise PipelineError(f"--workers {workers}: this machine has {cores} cores; pass at "
                            f"most --workers {cores} (or --scheduler for a bigger cluster)")


def resume_folder(kind: str, resume: Path | None, given: list[str]) -> Path | None:
    """The run folder `--resume` names (None: a new run). A resumed run goes on with its own
    settings, so an option it keeps (`runfolder.KEPT_ON_RESUME`) given too is refused;
    `latest` is the newest run of this kind under runs/."""
    if resume is None:
        return None
    fixed = runfolder.kept_on_resume(kind, given)
    if fixed:
        raise PipelineError(f"--resume continues with the run's own settings; drop "
                            f"{'/'.join(fixed)} (the run fixed them when it began)")
    if str(resume) != "latest":
        return resume
    found = runfolder.latest_run(RUNS_ROOT, kind)
    if found is None:
        raise PipelineError(f"no {kind} run under {RUNS_ROOT} to resume; start one with "
                            f"`snnpipe {kind}`")
    return found
