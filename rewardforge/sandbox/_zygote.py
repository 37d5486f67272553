"""The warm worker that runs INSIDE a bubblewrap sandbox (system Python, standard library only).

Starting a sandbox and a Python interpreter costs tens of milliseconds; this process pays that once per
slot and then forks one child per job. Each job gets, before any of its code runs:
- new mount, PID and IPC namespaces: fresh sized tmpfs on /tmp, /dev/shm and /work (nothing from an
  earlier job is visible), a pid 1 of our own that reaps it and takes everything it started down on exit
  (daemons included), and the /proc entries of every process outside the job hidden;
- a new session, rlimits, no capabilities (bounding and ambient sets emptied), no_new_privs, the first
  place in line for the OOM killer (the worker is protected), and the seccomp filter the parent handed
  over at start-up (`--seccomp FD`; the worker itself runs without it: it mounts and clones namespaces);
- only its stdin/stdout/stderr (descriptors the trusted parent created and passed in).
/dev is read-only for every job (bwrap remounts it before the worker starts; `_build_root` does the same),
so nothing a job does there reaches the next one.
The worker itself is non-dumpable, so a job running as the same uid cannot read or write its memory, and
it never reads job data (each job's own process unpickles its request), so the memory a job inherits
holds nothing of earlier jobs.
Python jobs (`python3 file.py` / `python3 -c code`) run in the forked, already-initialised interpreter;
anything else is exec'd. Trusted modules the parent names at start-up (`--preload FD`) are imported once
here, before any job, so jobs that use them (the code verifier's driver) skip loading them.

Protocol on the control socket (a SOCK_SEQPACKET fd given as the last argument): the parent sends b"R" with four
descriptors attached: stdin, stdout, stderr and a memfd holding the pickled request. The worker answers
one JSON message per request: {"status": <wait status>} or {"error": "<why the sandbox failed>"}. A b"K"
message from the parent kills the running job.
"""

import builtins
import ctypes
import gc
import io
import json
import marshal
import os
import pickle
import resource
import select
import signal
import socket
import struct
import sys
import traceback
import types

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 1, 2, 4, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
SETUP_FAILED = 125

libc = ctypes.CDLL(None, use_errno=True)
_pylibc = ctypes.PyDLL(None, use_errno=True)
_SYS_CLONE = {"x86_64": 56, "aarch64": 220, "riscv64": 220, "ppc64le": 120}


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount_tmpfs(target, size, flags=MS_NOSUID | MS_NODEV, mode="1777"):
    options = f"size={size},mode={mode}".encode()
    _check(libc.mount(b"tmpfs", target.encode(), b"tmpfs", flags, options), "mount tmpfs on " + target)


def _drop_privileges():
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails only for caps this kernel does not have
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(libc.capset(header, data), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the job may read its own /proc/self


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_seccomp_program = None  # the job filter (struct sock_filter[]), read once at start-up


def _load_seccomp(fd):
    global _seccomp_program
    with os.fdopen(fd, "rb") as f:
        _seccomp_program = f.read()


def _install_seccomp(program):
    """Installs the filter on this process (after no_new_privs); it cannot be removed, and children inherit it."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp filter")


def _write_files(files):
    for name, content in files:
        path = os.path.join("/work", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755 if content.startswith(b"#!") else 0o644)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


def _set_limits(limits):
    for name, value in limits:
        resource.setrlimit(getattr(resource, name), value)


def _exit_code(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def _apply_flags(flags):
    """The interpreter options a warm run honours (see warm.INLINE_FLAGS), applied after start-up."""
    if "B" in flags:
        sys.dont_write_bytecode = True
    if "S" in flags or "s" in flags or "I" in flags:
        # -S: no site-packages; -s / -I: no user site-packages (there is none: HOME is a fresh tmpfs).
        drop = ("site-packages", "dist-packages") if "S" in flags else ()
        sys.path[:] = [p for p in sys.path if not any(part in p for part in drop)]
    if "u" in flags:
        for fd, name in ((1, "stdout"), (2, "stderr")):
            stream = getattr(sys, name)
            raw = io.FileIO(fd, "w", closefd=False)
            setattr(sys, name, io.TextIOWrapper(raw, encoding=stream.encoding, errors=stream.errors,
                                                write_through=True))


def _run_python(args):
    """What `python3 args...` would do, in this already-initialised interpreter."""
    flags = ""
    while args and args[0].startswith("-") and args[0] != "-c":
        flags += args[0][1:]
        args = args[1:]
    _apply_flags(flags)
    if args and args[0] == "-c":
        source, filename, sys.argv = args[1], "<string>", ["-c", *args[2:]]
        path0 = ""
    else:
        filename, sys.argv = args[0], list(args)
        with open(filename, "rb") as f:
            source = f.read()
        path0 = os.path.dirname(os.path.abspath(filename))
    if "I" in flags:  # isolated mode: neither the script's directory nor the working directory
        del sys.path[0]
    else:
        sys.path[0] = path0
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    if filename != "<string>":
        main.__file__ = filename
    sys.modules["__main__"] = main
    try:
        exec(compile(source, filename, "exec"), main.__dict__)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        import atexit

        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def _job(request, stdio):
    """The job itself (pid 2 of its namespace): never returns."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setsid()
    _write_files(request["files"])
    os.chdir("/work")
    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
    os.closerange(3, 65536)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _set_limits(request["rlimits"])
    _drop_privileges()
    try:  # the worker is the OOM killer's last choice; the job (which inherits that) becomes its first
        with open("/proc/self/oom_score_adj", "w") as f:  # writable now that the job is dumpable again
            f.write("1000")
    except OSError:
        pass
    if _seccomp_program is not None:
        _install_seccomp(_seccomp_program)
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    if request["python_inline"]:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        _run_python(argv[1:])
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    try:
        os.execvpe(argv[0], argv, request["env"])
    except OSError as exc:
        os.write(2, f"cannot run {argv[0]}: {exc.strerror}\n".encode())
    os._exit(127)


def _init(request_fd, stdio, report_fd, hidden_pids):
    """pid 1 of the job's fresh mount/PID/IPC namespaces: mounts the job's tmpfs, starts the job and
    reports its wait status. When it exits, the kernel kills everything left in the namespace (daemons
    included)."""
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        request = _load_request(request_fd)
        _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
        size = request["tmp_bytes"]
        for target in ("/tmp", "/dev/shm", "/work"):
            _mount_tmpfs(target, size, mode="1777" if target != "/work" else "0755")
        # A trusted program that starts untrusted code only in its children (the code verifier's driver)
        # may be pid 1 itself: one process less per job, and nothing inside can signal it to death.
        as_init = request["as_init"]
        # /proc still shows the sandbox's PID namespace: cover bwrap's init, the worker and a separate init.
        for pid in hidden_pids if as_init else (*hidden_pids, int(os.readlink("/proc/self"))):
            _mount_tmpfs(f"/proc/{pid}", 4096, MS_RDONLY | MS_NOSUID | MS_NODEV, mode="0555")
        job = 0 if as_init else os.fork()
    except BaseException as exc:
        os.write(report_fd, b"E" + f"job setup failed: {exc}".encode()[:4000])
        os._exit(SETUP_FAILED)
    if job == 0:
        try:
            if as_init:
                os.write(report_fd, b"A")  # the job's wait status is this process's own
            _job(request, stdio)
        except BaseException as exc:
            try:
                os.write(report_fd, b"E" + f"job setup failed: {exc}".encode()[:4000])
            finally:
                os._exit(SETUP_FAILED)
        os._exit(SETUP_FAILED)
    for fd in stdio:
        os.close(fd)
    _, status = os.waitpid(job, 0)
    os.write(report_fd, b"S" + struct.pack("i", status))
    os._exit(0)


def _fork_into_namespaces():
    """Like os.fork(), but the child starts as pid 1 of new mount, PID and IPC namespaces.

    clone(2) with these flags and no stack does it in one step, so no intermediate process (a fork that
    unshares, then forks pid 1) is paid for on every job. The caller is single-threaded, and the child
    runs only our own code before its next os.fork(), so skipping Python's after-fork hooks is safe."""
    number = _SYS_CLONE.get(os.uname().machine)
    if number is None:
        raise OSError(f"clone: unsupported machine {os.uname().machine}")
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | signal.SIGCHLD
    # Through PyDLL, so the GIL stays held across the call, as os.fork() holds it.
    pid = _pylibc.syscall(ctypes.c_long(number), ctypes.c_long(flags), *(ctypes.c_long(0),) * 4)
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


def _receive(sock):
    """The next request's descriptor and its [stdin, stdout, stderr]; None when the parent hung up."""
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 16, 4)
        if not message:
            return None
        if message == b"R" and len(fds) == 4:
            break
        for fd in fds:  # a late b"K" for a job that already ended, or garbage: ignore it
            os.close(fd)
    return fds.pop(), fds


def _load_request(request_fd):
    """Read by the job's own process: the worker never holds job data, so no job can find an earlier
    job's files or input in the memory it inherits from the worker."""
    body = bytearray()
    while True:
        chunk = os.read(request_fd, 1 << 20)
        if not chunk:
            break
        body += chunk
    os.close(request_fd)
    return pickle.loads(bytes(body))


def _serve_one(sock, request_fd, stdio):
    report_r, report_w = os.pipe()
    worker = os.getpid()
    try:
        child = _fork_into_namespaces()
    except OSError as exc:
        for fd in (report_r, report_w, request_fd, *stdio):
            os.close(fd)
        return {"error": f"job setup failed: {exc}"}
    if child == 0:
        sock.close()
        os.close(report_r)
        _init(request_fd, stdio, report_w, [1, worker])  # bwrap's init and this worker: invisible to the job
    os.close(report_w)
    for fd in (request_fd, *stdio):
        os.close(fd)
    pidfd = os.pidfd_open(child)
    # poll, not selectors: every page the worker writes between two forks costs a copy-on-write fault.
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(sock, select.POLLIN)
    done = False
    while not done:
        for fd, _ in poller.poll():
            if fd == pidfd:
                done = True
            elif sock.recv(16) in (b"K", b""):
                os.kill(child, signal.SIGKILL)
    os.close(pidfd)
    _, init_status = os.waitpid(child, 0)
    report = b""
    while True:
        chunk = os.read(report_r, 8192)
        if not chunk:
            break
        report += chunk
    os.close(report_r)
    if report[:1] == b"A":  # the job ran as pid 1
        report = report[1:] or b"S" + struct.pack("i", init_status)
    if report[:1] == b"S" and len(report) >= 5:
        return {"status": struct.unpack("i", report[1:5])[0]}
    if report[:1] == b"E":
        return {"error": report[1:].decode("utf-8", "replace")}
    return {"status": signal.SIGKILL}  # killed before it could report: by the parent's "K"


MS_BIND, MS_REMOUNT, MNT_DETACH = 0x1000, 0x20, 2
_ST_KEEP = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: 8}  # flags a remount must keep
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _bind(source, target, read_only=True):
    _check(libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None), "bind " + source)
    if read_only:
        kept = 0
        for st_flag, ms_flag in _ST_KEEP.items():
            if os.statvfs(target).f_flag & st_flag:
                kept |= ms_flag
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | kept
        _check(libc.mount(None, target.encode(), None, flags, None), "read-only " + target)


def _build_root(spec):
    """Without bubblewrap (util-linux `unshare` made our user/mount/pid/net/ipc/uts namespaces and we are
    root in them): build the same root bwrap would, pivot into it, and forbid nested user namespaces."""
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    root = "/tmp"
    _mount_tmpfs(root, 1 << 20, mode="0755")
    for name in ("proc", "dev", "tmp", "work", "etc", "oldroot"):
        os.mkdir(f"{root}/{name}")
    for top, link in spec["top"]:
        if link is not None:
            os.symlink(link, f"{root}/{top}")
        else:
            os.makedirs(f"{root}/{top}", exist_ok=True)
            _bind(f"/{top}", f"{root}/{top}")
    for extra in spec["binds"]:
        os.makedirs(f"{root}{extra}", exist_ok=True)
        _bind(extra, f"{root}{extra}")
    _mount_tmpfs(f"{root}/dev", 1 << 20, mode="0755")
    for name in _DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{root}/dev/{name}", "w").close()
            _bind(f"/dev/{name}", f"{root}/dev/{name}", read_only=False)
    os.mkdir(f"{root}/dev/shm")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    _check(libc.mount(b"proc", f"{root}/proc".encode(), b"proc", MS_NOSUID | MS_NODEV | 8, None), "mount proc")
    with open(f"{root}/proc/sys/user/max_user_namespaces", "w") as f:  # no nested user namespaces
        f.write("0")
    # As bwrap does: the kernel knobs under /proc stay read-only (a job is root of this user namespace, so
    # it could otherwise tune the network namespace every later job of this worker shares).
    for name in ("sys", "sysrq-trigger", "irq", "bus"):
        if os.path.exists(f"{root}/proc/{name}"):
            _bind(f"{root}/proc/{name}", f"{root}/proc/{name}")
    _bind(f"{root}/dev", f"{root}/dev")  # read-only: nothing a job does in /dev reaches the next one
    _mount_tmpfs(f"{root}/tmp", 1 << 20)
    for name, content in (("passwd", "sandbox:x:0:0:sandbox:/tmp:/bin/sh\n"), ("group", "sandbox:x:0:\n")):
        with open(f"{root}/etc/{name}", "w") as f:
            f.write(content)
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"pivot_root: unsupported machine {os.uname().machine}")
    os.chdir(root)
    _check(libc.syscall(number, b".", b"oldroot"), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/oldroot", MNT_DETACH), "detach the old root")
    os.rmdir("/oldroot")
    _check(libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND | MS_RDONLY, None), "read-only root")
    libc.sethostname(b"sandbox", 7)


def _preload(fd):
    """Import the trusted modules the parent handed over at start-up (marshal: [(name, source), ...]).
    Jobs find them in sys.modules, already compiled; each job has its own copy-on-write view of them."""
    with os.fdopen(fd, "rb") as f:
        modules = marshal.loads(f.read())
    for name, source in modules:
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(source, f"<{name}>", "exec"), module.__dict__)


def main():
    sock = socket.socket(fileno=int(sys.argv[-1]))
    options = dict(zip(sys.argv[2:-1:2], sys.argv[3:-1:2], strict=True))
    try:
        if "--build-root" in options:
            _build_root(json.loads(options["--build-root"]))
        if "--preload" in options:
            _preload(int(options["--preload"]))
        if "--seccomp" in options:
            _load_seccomp(int(options["--seccomp"]))
    except BaseException as exc:
        sock.send(json.dumps({"error": f"sandbox worker setup failed: {exc}"}).encode())
        return
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # Everything loaded so far lives as long as the worker: the collector need never visit it, so a
    # collection in a job does not touch (and copy, after the fork) every page of the inherited heap.
    gc.freeze()
    sock.send(b'{"ready": true}')
    while True:
        received = _receive(sock)
        if received is None:
            return
        request_fd, stdio = received
        sys.stdout.flush()
        sys.stderr.flush()
        reply = _serve_one(sock, request_fd, stdio)
        sock.send(b'{"status": %d}' % reply["status"] if "status" in reply else json.dumps(reply).encode())


if __name__ == "__main__":
    main()
