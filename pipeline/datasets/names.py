"""What a data set may be called: the built-in names, and the rule for an import's name."""

from __future__ import annotations

import re

from snnpipe.pipeline.datasets.fetch import DATASETS as IDX_DATASETS
from snnpipe.pipeline.errors import PipelineError

BUILTIN = (*IDX_DATASETS, "digits")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def check_name(name: str) -> None:
    """A data set name is a plain lower-case file name: no paths, no clashes."""
    if name in BUILTIN:
        raise PipelineError(f"{name!r} is a built-in data set; choose another NAME for "
                            "your import")
    if not NAME_RE.fullmatch(name) or ".." in name or "-levels-" in name:
        raise PipelineError(f"data set name {name!r}: use 1-64 lower-case letters, digits, "
                            "'-', '_' or '.', starting with a letter or digit (no '/', "
                            "'..' or '-levels-')")
