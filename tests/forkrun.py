"""Run `snnpipe` in a real child process that starts in a fraction of a second.

A fresh `python -m snnpipe.pipeline.cli` spends 2-4 s importing numba, scipy, zarr, dask, typer and
rich and loading the cached kernels before it does any work, and the suite starts hundreds
of them. Here one server process per test worker (tests/forkserver.py) imports all of that
once and runs every engine kernel once; each command is then a `fork` of it: a real process
with its own pid, exit code, signal handlers and file descriptors, so SIGKILL, SIGSTOP,
SIGINT and exit codes mean exactly what they mean for the console script.

What a child does not share with a fresh interpreter: its modules are already imported
(the "Ctrl-C while importing" path is tested with real fresh processes), numba runs its
`workqueue` threading layer, the one that survives a fork, and an address-space cap
(`address_space`, as `ulimit -v`) counts the server's own mappings (about 1.4 GB), which a
fresh interpreter would map while importing.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = Path(__file__).resolve().parent / "forkserver.py"


class _Server:
    """The client side: send a command, learn its pid at once and its exit code later."""

    def __init__(self) -> None:
        env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "MPLBACKEND": "Agg",
               "PYTHONPATH": os.pathsep.join(
                   filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self._folder = tempfile.mkdtemp(prefix="snnpipe-fork-")      # short: AF_UNIX path
        self.shim_address = os.path.join(self._folder, "socket")
        self._proc = subprocess.Popen([sys.executable, str(SERVER), self.shim_address],
                                      stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True,
                                      bufsize=1)
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._pids: dict[int, int] = {}
        self._codes: dict[int, int] = {}
        self._next = 0
        ready = self._proc.stdout.readline()
        if ready.strip() != "ready":
            raise RuntimeError(f"test fork server failed to start: {ready!r}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            msg = json.loads(line)
            with self._cond:
                if "pid" in msg:
                    self._pids[msg["id"]] = msg["pid"]
                else:
                    self._codes[msg["id"]] = msg["exit"]
                self._cond.notify_all()

    def start(self, request: dict) -> tuple[int, int]:
        with self._send_lock:
            self._next += 1
            ident = self._next
            self._proc.stdin.write(json.dumps({**request, "id": ident}) + "\n")
            self._proc.stdin.flush()
        with self._cond:
            self._cond.wait_for(lambda: ident in self._pids or self._proc.poll() is not None)
            if ident not in self._pids:
                raise RuntimeError("the test fork server died")
            return ident, self._pids.pop(ident)

    def exit_code(self, ident: int, timeout: float | None) -> int | None:
        with self._cond:
            self._cond.wait_for(lambda: ident in self._codes, timeout)
            return self._codes.pop(ident, None)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(60)
        shutil.rmtree(self._folder, ignore_errors=True)


_server: _Server | None = None
_server_lock = threading.Lock()


def _get_server() -> _Server:
    global _server
    with _server_lock:
        if _server is None:
            _server = _Server()
            atexit.register(_server.close)
    return _server


@dataclass
class Finished:
    """What `subprocess.run(..., capture_output=True, text=True)` returns, in short."""
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


class Proc:
    """A started command (like `subprocess.Popen`): pid, poll, wait, then its output."""

    def __init__(self, args: list[str], cwd: Path, env: dict | None,
                 address_space: int | None = None):
        self.args = list(args)
        self._dir = tempfile.mkdtemp(prefix="snnpipe-fork-")
        self._out = os.path.join(self._dir, "out")
        self._err = os.path.join(self._dir, "err")
        full_env = dict(os.environ if env is None else env)
        full_env.setdefault("WANDB_MODE", "disabled")
        self._server = _get_server()
        self._id, self.pid = self._server.start(
            {"args": self.args, "env": full_env, "cwd": str(cwd), "out": self._out,
             "err": self._err, "address_space": address_space})
        self.returncode: int | None = None
        self.stdout = self.stderr = ""

    def poll(self) -> int | None:
        if self.returncode is None:
            code = self._server.exit_code(self._id, 0)
            if code is not None:
                self._finish(code)
        return self.returncode

    def wait(self, timeout: float | None = 600) -> int:
        if self.returncode is None:
            code = self._server.exit_code(self._id, timeout)
            if code is None:
                os.kill(self.pid, 9)
                self._server.exit_code(self._id, None)
                raise TimeoutError(f"snnpipe {' '.join(self.args)} ran over {timeout} s")
            self._finish(code)
        return self.returncode

    def _finish(self, code: int) -> None:
        self.returncode = code
        with open(self._out, errors="replace") as f:
            self.stdout = f.read()
        with open(self._err, errors="replace") as f:
            self.stderr = f.read()
        for p in (self._out, self._err):
            os.unlink(p)
        os.rmdir(self._dir)


def start(*args, cwd: Path = ROOT, env: dict | None = None,
          address_space: int | None = None) -> Proc:
    """Start `snnpipe ARGS` in a forked child and return at once (address_space: the most
    bytes it may map, as `ulimit -v` sets)."""
    return Proc([str(a) for a in args], Path(cwd), env, address_space)


def snnpipe(*args, cwd: Path = ROOT, env: dict | None = None, timeout: float = 600,
            address_space: int | None = None) -> Finished:
    """Run `snnpipe ARGS` to the end in a forked child (env: the whole environment, or None
    for this process's); stdout and stderr captured as text."""
    proc = start(*args, cwd=cwd, env=env, address_space=address_space)
    proc.wait(timeout)
    return Finished(proc.args, proc.returncode, proc.stdout, proc.stderr)


def fresh(*args, cwd: Path = ROOT, env: dict | None = None, timeout: float = 600) -> Finished:
    """`python -m snnpipe.pipeline.cli ARGS` in a brand-new interpreter: for what happens while the
    modules load (Ctrl-C in the first instant), which a forked child has already passed."""
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("WANDB_MODE", "disabled")
    cmd = [sys.executable, "-m", "snnpipe.pipeline.cli", *map(str, args)]
    res = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                         timeout=timeout)
    return Finished(cmd, res.returncode, res.stdout, res.stderr)


class Shim:
    """`snnpipe` on a shell's PATH (the docs' code blocks) that is `forkrun.start`: each call
    is a command forked from this worker's server, which receives the caller's own stdin,
    stdout and stderr (file descriptors over a socket: shared as a child of the shell
    shares them), folder and environment. The caller forwards SIGINT, SIGTERM and SIGHUP
    to the command and exits as it exits. So a block of seven commands pays no interpreter
    start-up; the console script's own start-up is tested by fresh processes
    (tests/test_readme.py)."""

    SCRIPT = '''#!{python} -IS
import json, os, signal, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect({address!r})
request = {{"args": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}
socket.send_fds(s, [json.dumps(request).encode()], [0, 1, 2])
started = s.recv(1 << 16)
if not started:
    sys.exit("snnpipe (test shim): the test fork server went away")
pid = json.loads(started)["pid"]
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, lambda n, _: os.kill(pid, n))
ended = s.recv(1 << 16)
if not ended:
    sys.exit("snnpipe (test shim): the test fork server went away")
code = json.loads(ended)["exit"]
if code < 0:                                     # died of a signal: so does the caller
    if -code != signal.SIGKILL:
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
'''

    def __init__(self) -> None:
        self.bin = Path(tempfile.mkdtemp(prefix="snnpipe-shim-"))
        script = self.bin / "snnpipe"
        script.write_text(self.SCRIPT.format(python=sys.executable,
                                             address=_get_server().shim_address))
        script.chmod(0o755)

    def close(self) -> None:
        shutil.rmtree(self.bin, ignore_errors=True)
