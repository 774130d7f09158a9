"""The test fork server (started by tests/forkrun.py, one per test worker).

It imports every module a command may load and runs every engine kernel once, prints
"ready", then reads one JSON request per line on stdin: fork a child that becomes
`snnpipe ARGS` (environment, folder, stdout and stderr files as asked) and reply
{"id", "pid"} at once, then {"id", "exit"} when the child ends (the exit code as
`subprocess` gives it: negative for a signal). It exits when stdin closes.

It also listens on the AF_UNIX socket named by its first argument, for the `snnpipe` that
the docs' shell blocks call (tests/forkrun.py `Shim`): one message holds the request and
the caller's own stdin, stdout and stderr (passed as file descriptors, so the child shares
them as a child of the shell would); the reply is {"pid"} at once, then {"exit"}.
"""

import contextlib
import json
import os
import resource
import selectors
import signal
import socket
import sys
import traceback


def become(req: dict, stdio_fds: list[int] | None = None) -> None:
    """In the forked child: a fresh `snnpipe ARGS` process, exiting as one would. Its
    stdin, stdout and stderr are `stdio_fds` (a shim caller's own), or /dev/null and the
    files `req` names. With "address_space", it may map at most that many bytes in all
    (what `ulimit -v` gives a shell's child)."""
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])
    if stdio_fds is None:
        stdio_fds = [os.open(path, flags, 0o644) for path, flags in (
            (os.devnull, os.O_RDONLY), (req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC))]
    for fd, f in enumerate(stdio_fds):
        os.dup2(f, fd)
    for f in set(stdio_fds) - {0, 1, 2}:
        os.close(f)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    if req.get("address_space"):      # after the redirection: a failure is the child's stderr
        resource.setrlimit(resource.RLIMIT_AS, (req["address_space"], req["address_space"]))
    from snnpipe.stores import faults
    faults._SPEC, faults._WRITES = False, 0      # as in a new process: no fault read yet
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    sys.argv = ["snnpipe", *req["args"]]
    code = 0
    try:
        from snnpipe.pipeline.entry import main as console_script  # what `snnpipe` runs
        console_script()
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:                    # as Python does: traceback, then die of it
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code & 0xFF)


def reply(msg: dict) -> None:
    sys.__stdout__.write(json.dumps(msg) + "\n")
    sys.__stdout__.flush()


def main() -> None:
    # Imported here, not at the top: a dask worker spawned by a child imports this file
    # again as __mp_main__, and must not pay for the warm-up.
    import gc

    import forkserver_warm  # noqa: F401  (imports and kernels, before any fork)
    gc.collect()
    gc.freeze()        # children's collections skip the server's objects: no copy-on-write
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    pending = b""
    sel.register(wake_r, selectors.EVENT_READ)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(sys.argv[1])
    listener.listen()
    sel.register(listener, selectors.EVENT_READ)
    children: dict[int, int | socket.socket] = {}   # pid -> request id, or a shim's socket

    def fork(req: dict, stdio_fds: list[int] | None = None, conn=None) -> int:
        pid = os.fork()
        if pid == 0:
            try:
                shims = [c for c in [*children.values(), conn] if isinstance(c, socket.socket)]
                for f in (wake_r, wake_w, listener.fileno(), *(c.fileno() for c in shims)):
                    os.close(f)
                become(req, stdio_fds)          # exits; never back in the server's loop
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(70)
        return pid

    sys.__stdout__.write("ready\n")
    sys.__stdout__.flush()
    open_input = True
    while open_input or children:
        for key, _ in sel.select():
            if key.fileobj == 0:
                chunk = os.read(0, 1 << 16)
                if not chunk:
                    open_input = False
                    sel.unregister(0)
                    sel.unregister(listener)
                    listener.close()
                    continue
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    req = json.loads(line)
                    pid = fork(req)
                    children[pid] = req["id"]
                    reply({"id": req["id"], "pid": pid})
            elif key.fileobj is listener:
                conn, _ = listener.accept()
                msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                try:
                    pid = fork(json.loads(msg), fds, conn)
                finally:
                    for f in fds:
                        os.close(f)
                children[pid] = conn
                with contextlib.suppress(OSError):
                    conn.send(json.dumps({"pid": pid}).encode())
            else:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            ident = children.pop(pid, None)
            code = os.waitstatus_to_exitcode(status)
            if isinstance(ident, socket.socket):
                with ident, contextlib.suppress(OSError):     # the caller may be gone
                    ident.send(json.dumps({"exit": code}).encode())
            elif ident is not None:
                reply({"id": ident, "exit": code})


if __name__ == "__main__":
    main()
