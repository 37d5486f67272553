"""The keeper: the parent of one worker process, so that nothing the worker starts outlives its caller.

Run as a script (`python -I -S keeper.py CONTROL_FD WORKER_ARGV...`), standard library only, no
rewardforge import: it is small, starts fast, and never runs user code, so it always answers.

- It is a child subreaper (`PR_SET_CHILD_SUBREAPER`): whatever the worker's rewards start, even a
  child that calls `setsid` and double-forks, stays its descendant.
- It holds the read end of a control pipe whose write end only the caller holds. The pipe reaches
  end-of-file when the caller closes it (to kill the worker: timeout, recycling, cancel) or when the
  caller dies in any way, SIGKILL included. A watchdog on a pipe, unlike `PR_SET_PDEATHSIG`, is not
  tied to the caller's thread that started the worker.
- On end-of-file, or when the worker exits, it freezes (SIGSTOP) and then kills (SIGKILL) every
  descendant, reaps them, and exits with the worker's status: its exit code, or 128 + the signal.
- Orphans that land on it are reaped as they die, so no zombie piles up.
"""

import ctypes
import os
import select
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def descendants(root: int) -> set[int]:
    """Every live process below `root`, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:  # no /proc: the worker's process group is all that can be found
        return set()
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # the command name may hold spaces and parentheses
        children.setdefault(int(fields[1]), []).append(int(name))
    found: set[int] = set()
    stack = [root]
    while stack:
        for pid in children.get(stack.pop(), ()):
            if pid not in found:
                found.add(pid)
                stack.append(pid)
    return found


def kill_descendants(worker: int | None) -> int | None:
    """Freeze every descendant (so none can fork again), then kill them all and reap them; the
    worker's wait status if it is reaped here (a worker already dying keeps the status it died with).
    `worker` is None once it has been reaped: its pid, and so its group id, may then be reused."""
    me = os.getpid()
    if worker is not None:
        _signal_group(worker, signal.SIGSTOP)  # the worker's own group first, at once
    frozen: set[int] = set()
    while True:
        fresh = descendants(me) - frozen
        if not fresh:
            break
        for pid in fresh:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        frozen |= fresh
    if worker is not None:
        _signal_group(worker, signal.SIGKILL)
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    status = None
    while True:  # killed processes' children were reparented here: wait for every one of them
        try:
            pid, child_status = os.waitpid(-1, 0)
        except ChildProcessError:
            return status
        except InterruptedError:
            continue
        if pid == worker:
            status = child_status


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def status_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def main() -> None:
    control = int(sys.argv[1])
    argv = sys.argv[2:]
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: descendants that leave the worker's process group may then escape
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: None)  # the wakeup fd does the work; SIGTERM etc. end the loop below
    worker = os.fork()
    if worker == 0:
        try:
            os.setpgid(0, 0)  # its own group: a reward's killpg(0) cannot reach the keeper
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            for fd in (control, wake_read, wake_write):
                os.close(fd)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # only the worker holds the protocol pipes
    os.dup2(devnull, 1)
    status: int | None = None
    stop = False
    while status is None and not stop:
        try:
            ready, _, _ = select.select([control, wake_read], [], [])
        except InterruptedError:
            continue
        if control in ready:
            stop = True  # end-of-file (the caller closed it or died); any byte means the same
        if wake_read in ready:
            try:
                woke = os.read(wake_read, 512)
            except BlockingIOError:
                woke = b""
            stop = stop or any(sig in woke for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT))
        while True:
            try:
                pid, child_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == worker:
                status = child_status
    last = kill_descendants(worker if status is None else None)
    status = status if status is not None else last
    os._exit(status_code(status) if status is not None else 0)


if __name__ == "__main__":
    main()
