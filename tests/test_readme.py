"""README.md and docs/*.md say only what works: their runnable code blocks run as written,
and their relative links (and #anchors) resolve.

Convention for code blocks: a ```bash / ```sh / ```python fence is runnable and is run here;
any other fence (```text for output, ```toml for a spec file) is shown, never run. A runnable
fence is left out only when the line right before it is `<!-- not run: REASON -->`, for
commands that are too long for a test (trainings of minutes to hours, `make` targets that
install or run this very suite); the reason is required. Bash blocks run with `bash -e` in a
fresh folder holding links to the repo's `data/` and `docs/`, with the venv's `bin/` on PATH,
behind a `snnpipe` that forks each command from the test worker's pre-imported server
(tests/forkrun.py `Shim`: a real process with the block's own stdin, stdout, stderr, folder
and environment, and no 2-second interpreter start-up); Python blocks run in that folder
with the venv's interpreter. The console script itself is run fresh by its own test below.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import forkrun
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = {"bash", "sh", "python"}
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")


@dataclass
class Block:
    page: Path
    line: int           # 1-based line of the opening fence
    lang: str
    code: str
    not_run: str | None  # the reason, when marked `<!-- not run: … -->`

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def code_blocks(page: Path) -> list[Block]:
    """Fenced blocks of a page (indented fences in list items included), in order."""
    lines = page.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = len(m.group(1)), m.group(2), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            body.append(line[indent:] if line.startswith(" " * indent) else line.lstrip())
            i += 1
        marker = NOT_RUN.match(lines[start - 1]) if start else None
        blocks.append(Block(page, start + 1, lang, "\n".join(body) + "\n",
                            marker.group(1) if marker else None))
        i += 1
    return blocks


ALL_BLOCKS = [b for page in PAGES for b in code_blocks(page)]
TO_RUN = [b for b in ALL_BLOCKS if b.lang in RUNNABLE and b.not_run is None]


def test_not_run_markers_have_a_reason_and_sit_on_a_runnable_block():
    for page in PAGES:
        lines = page.read_text().splitlines()
        for n, line in enumerate(lines):
            m = NOT_RUN.match(line)
            if not m and "not run" in line and "<!--" in line:
                pytest.fail(f"{page.name}:{n + 1}: malformed marker {line!r}")
            if m:
                assert m.group(1), f"{page.name}:{n + 1}: `not run` needs a reason"
                nxt = FENCE.match(lines[n + 1]) if n + 1 < len(lines) else None
                assert nxt and nxt.group(2) in RUNNABLE, \
                    f"{page.name}:{n + 1}: `not run` must sit right before a runnable fence"


def test_the_quick_starts_are_run():
    readme = [b for b in TO_RUN if b.page.name == "README.md"]
    assert {b.lang for b in readme} == {"bash", "python"}
    assert any("snnpipe eval docs/reproduce/best.zarr" in b.code for b in readme)
    assert any("import snnpipe" in b.code for b in readme)


# Checks beyond "it ran", keyed by a line that identifies the block.
def _check_readme_cli(out: str) -> None:
    assert re.search(r"^snnpipe \d+\.\d+\.\d+", out, re.M)
    assert "docs/reproduce/best.zarr" in out
    assert "neurons" in out and "79" in out


def _check_readme_python(out: str) -> None:
    assert 0.5 < float(re.search(r"after one pass: ([0-9.]+)", out).group(1)) <= 1.0   # 62 %
    assert "committed best checkpoint: 0.9865" in out


def _check_estimator_page(out: str, folder: Path) -> None:
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert 0.5 < accuracy <= 1.0            # 60,000 samples, one pass: early on the curve (~62 %)
    assert "committed best checkpoint: 0.9865" in out
    assert (folder / "runs" / "sonn-estimator.zarr" / "zarr.json").exists()


CHECKS = {
    "snnpipe --version": _check_readme_cli,
    "after one pass": _check_readme_python,
    'save_estimator("runs/sonn-estimator.zarr"': _check_estimator_page,
}


@pytest.fixture(scope="module")
def shim():
    shim = forkrun.Shim()
    yield shim
    shim.close()


def test_the_console_script_starts_as_a_fresh_process(mnist_store, tmp_path):
    """What the blocks' forked `snnpipe` skips: the installed script's own start-up, with
    numba's default threading layer, up to a real (tiny) training run."""
    script = Path(sys.executable).parent / "snnpipe"
    env = {**os.environ, "WANDB_MODE": "disabled"}
    res = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and re.fullmatch(r"snnpipe \d+\.\d+\.\d+\n", res.stdout), res
    res = subprocess.run([script, "eval"], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and res.stderr.startswith("error: "), res
    res = subprocess.run([script, "train", "--epochs", "1", "--limit-train", "300",
                          "--limit-test", "100", "--set", "neurons=20", "--data-dir",
                          str(mnist_store.parent), "--run-dir", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "run" / "checkpoints" / "last.zarr" / "zarr.json").is_file()


def test_the_shim_is_the_command_with_the_callers_stdio_folder_and_exit_code(shim, tmp_path):
    code = """cd sub
{ snnpipe --version; echo done; } > v.txt
snnpipe --version >> v.txt
snnpipe config show --set neurons=79 | grep -c neurons
snnpipe eval nowhere.zarr 2> err.txt || echo "exit $?"
SNNPIPE_FAULT=SIGKILL@write:1 snnpipe fetch --dataset digits --data-dir d || echo "exit $?"
"""
    (tmp_path / "sub").mkdir()
    res = subprocess.run(["bash", "-e", "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "PATH": f"{shim.bin}{os.pathsep}{os.environ['PATH']}"})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert int(lines[0]) >= 1 and lines[1:] == ["exit", "1", "exit", str(128 + signal.SIGKILL)]
    version = (tmp_path / "sub" / "v.txt").read_text().splitlines()
    assert version[1] == "done" and version[0] == version[2], version   # one shared offset
    assert version[0].startswith("snnpipe ")
    assert (tmp_path / "sub" / "err.txt").read_text().startswith("error: ")


@pytest.mark.parametrize("block", TO_RUN, ids=[b.id for b in TO_RUN])
def test_code_block_runs_as_written(block, mnist_store, hold_data_dir, shim, tmp_path):
    """Each runnable block, in a fresh folder that sees the real data and committed docs
    (holding data/ against the other test worker: blocks run `snnpipe preprocess`)."""
    for name in ("data", "docs"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    (tmp_path / "runs").mkdir()
    path = os.pathsep.join([str(shim.bin), str(Path(sys.executable).parent),
                            os.environ.get("PATH", "")])
    env = {**os.environ, "WANDB_MODE": "disabled", "PATH": path}
    cmd = ["bash", "-e", "-o", "pipefail", "-c", block.code] if block.lang != "python" \
        else [sys.executable, "-c", block.code]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, f"{block.id} failed:\n{block.code}\n{res.stdout}\n{res.stderr}"
    for key, check in CHECKS.items():
        if key in block.code:
            args = (res.stdout, tmp_path)[:check.__code__.co_argcount]
            check(*args)


# ------------------------------------------------------------------------------ links
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)\)")


def prose(page: Path) -> str:
    """The page without its fenced code blocks (links in code are not links)."""
    keep, inside = [], False
    for line in page.read_text().splitlines():
        if FENCE.match(line) or (inside and line.strip() == "```"):
            inside = not inside
            continue
        if not inside:
            keep.append(line)
    return "\n".join(keep)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found = set()
    for line in prose(page).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base, n = slug(m.group(1)), 0
            while (base if n == 0 else f"{base}-{n}") in found:
                n += 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(prose(page))]


def test_pages_exist_and_readme_is_a_landing_page():
    names = {p.name for p in PAGES}
    assert {"cli.md", "results.md", "engine.md", "reliability.md", "data.md"} <= names
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "make run     #" in readme and "make test    #" in readme


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page):
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):      # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert dest.exists(), f"{page.name}: broken link {target}"
        if anchor:
            assert dest.suffix == ".md", f"{page.name}: anchor into a non-page {target}"
            assert anchor in anchors(dest), \
                f"{page.name}: no heading #{anchor} in {dest.name}: {sorted(anchors(dest))}"


def test_link_checker_catches_breakage(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# A title: here\n[ok](#a-title-here) [bad](nowhere.md)\n"
                    "```text\n[not a link](gone.md)\n```\n")
    assert links(page) == ["#a-title-here", "nowhere.md"]
    assert anchors(page) == {"a-title-here"}
