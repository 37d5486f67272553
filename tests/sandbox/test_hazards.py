"""Containment hazards, run on every isolating backend.

Each hazard must be contained, leave the host unaffected, and leave the backend able to run the next job.
Backends: `hazard_backend` in conftest.py (local warm, local cold, local unshare fallback, docker).
All hazards of a backend run concurrently once (the `outcomes` fixture), and each test then checks its
own hazard's results, so the suite takes a few seconds rather than the sum of every wall-clock limit.
Every hazard program carries TOKEN in its command line, so leaked processes can be found on the host.
(The reward-hack hazards need the judge and live with the code verifier's tests.)
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rewardforge.sandbox import ExecRequest, ExecResult, Limits, SandboxBackend

# Running every hazard once takes a few seconds per backend (charged to the first test of each).
pytestmark = pytest.mark.slow

TOKEN = f"rfhazard{secrets.token_hex(6)}"
PROJECT = Path(__file__).resolve().parents[2]
LIMITS = Limits(wall_s=3, cpu_s=2, memory_mb=256, pids=32, file_size_mb=4, tmp_mb=16, output_bytes=64 * 1024)
# A unique argument for the daemon's `sleep`, so that a surviving daemon can be found on the host.
DAEMON_SLEEP = f"{int(TOKEN[-6:], 16) % 9000 + 1000}.{secrets.randbelow(10**6):06d}"


# Hazards that would hurt an unisolated host (kill -1 as root, a fork bomb as root) first check that they
# run in a PID namespace other than the test's, and refuse otherwise, so a broken backend fails the test
# instead of taking the machine down.
HOST_PIDNS = os.readlink("/proc/self/ns/pid")
GUARD = (
    f"import os, sys\nif os.readlink('/proc/self/ns/pid') == {HOST_PIDNS!r}:\n"
    "    print('NOT ISOLATED: refusing to run this hazard in the host pid namespace')\n    sys.exit(3)\n"
)


def py(code: str, *, limits: Limits = LIMITS, tag: str = "", own_process: bool = False, **fields: Any) -> ExecRequest:
    """A Python job whose code carries TOKEN (and `tag`, to tell concurrent hazards apart).

    `own_process` asks for a fresh interpreter (`-W default` keeps a warm backend from running the code in
    its pre-started one), so TOKEN shows in the command line of every process the job starts."""
    flags = ["-W", "default"] if own_process else []
    return ExecRequest(argv=["python3", *flags, "-c", f"# {TOKEN} {tag}\n{code}"], limits=limits, **fields)


def host_pids_with(marker: str) -> list[int]:
    """Host processes whose command line contains `marker` (containers' processes are host processes too)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry))
    return found


def wait_until_gone(marker: str, timeout_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := host_pids_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@dataclass
class Host:
    """Things on the host that a contained job must not reach."""

    secret: str
    canary_files: list[Path]
    forbidden_writes: list[Path]
    listener: socket.socket
    sentinel: subprocess.Popen[bytes]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    secret = f"canary-{secrets.token_hex(8)}"
    canaries = [PROJECT / f".rf_canary_{TOKEN}", Path.home() / f".rf_canary_{TOKEN}", Path(f"/root/rf_canary_{TOKEN}")]
    for path in canaries:
        path.write_text(secret)
    forbidden = [Path(f"/etc/rf_{TOKEN}"), Path(f"/usr/rf_{TOKEN}"), Path(f"/usr/lib/rf_{TOKEN}"), PROJECT / f"rf_{TOKEN}"]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    sentinel = subprocess.Popen(["sleep", "600"])
    old_env = os.environ.get("RF_HAZARD_CANARY")
    os.environ["RF_HAZARD_CANARY"] = secret
    try:
        yield Host(secret, [*canaries, Path("/etc/shadow")], forbidden, listener, sentinel)
    finally:
        if old_env is None:
            os.environ.pop("RF_HAZARD_CANARY", None)
        else:
            os.environ["RF_HAZARD_CANARY"] = old_env
        sentinel.kill()
        sentinel.wait()
        listener.close()
        for path in canaries + forbidden:
            path.unlink(missing_ok=True)


# -- the hazards: each runs its job(s) and returns what the tests need to look at ----------------------

Outcome = dict[str, Any]


def hz_infinite_loop(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py("while True: pass", limits=LIMITS.model_copy(update={"cpu_s": 1})))}


def hz_sleep(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py("import time; time.sleep(1e6)", limits=LIMITS.model_copy(update={"wall_s": 1.5})))}


def _during(b: SandboxBackend, request: ExecRequest, tag: str) -> Outcome:
    """Runs `request` while the host keeps spawning processes and counts the job's processes on the host."""
    box: dict[str, ExecResult] = {}
    worker = threading.Thread(target=lambda: box.setdefault("run", b.run(request)))
    worker.start()
    peak, host_spawns_ok = 0, True
    while worker.is_alive():
        peak = max(peak, len(host_pids_with(f"{TOKEN} {tag}\n")))
        host_spawns_ok &= subprocess.run(["true"], check=False).returncode == 0
        time.sleep(0.1)
    worker.join()
    return {"run": box["run"], "peak_processes": peak, "host_spawns_ok": host_spawns_ok}


FORK_BOMB = GUARD + "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)"


def hz_fork_bomb(b: SandboxBackend, h: Host) -> Outcome:
    return _during(b, py(FORK_BOMB, tag="fork_bomb", own_process=True), "fork_bomb")


def hz_fork_bomb_inline(b: SandboxBackend, h: Host) -> Outcome:
    return _during(b, py(FORK_BOMB, tag="fork_bomb_inline"), "fork_bomb_inline")


def hz_thread_bomb(b: SandboxBackend, h: Host) -> Outcome:
    code = (
        "import os, threading, time\nn = 0\ntry:\n"
        "    while True:\n"
        "        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n        n += 1\n"
        "except Exception as exc:\n    print(n, type(exc).__name__, flush=True)\nos._exit(0)"
    )
    return _during(b, py(code, tag="thread_bomb", own_process=True), "thread_bomb")


def hz_memory_bomb(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py("chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))"))}


def hz_endless_stdout(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)"))}


def hz_endless_stderr(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py("import sys\nwhile True:\n    sys.stderr.write('y' * 65536)"))}


FILL = """
import json, os
report = {}
for d in ["/tmp", "/dev/shm", os.getcwd(), "/"]:
    written, error = 0, None
    for i in range(4096):
        try:
            with open(os.path.join(d, "fill%d" % i), "wb") as f:
                f.write(b"\\0" * (1 << 20))
            written += 1 << 20
        except OSError as exc:
            error = exc.errno
            break
    report[d] = [written, error]
print(json.dumps(report))
"""


def hz_fill_disks(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py(FILL))}


NETWORK = """
import json, socket, sys
port = int(sys.argv[1])
report = {}
def attempt(name, action):
    try:
        action()
        report[name] = "reached"
    except OSError as exc:
        report[name] = "blocked: %s" % exc
attempt("host_loopback", lambda: socket.create_connection(("127.0.0.1", port), timeout=2).close())
attempt("external_ip", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2).close())
attempt("dns", lambda: socket.getaddrinfo("pypi.org", 443))
print(json.dumps(report))
"""


def hz_network(b: SandboxBackend, h: Host) -> Outcome:
    request = py(NETWORK)
    request.argv.append(str(h.port))
    run = b.run(request)
    try:
        h.listener.accept()[0].close()
        accepted = True
    except BlockingIOError:
        accepted = False
    return {"run": run, "accepted": accepted}


ENVIRON = """
import os
print(sorted(os.environ.items()))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print(pid, open("/proc/%s/environ" % pid, "rb").read())
        except OSError as exc:
            print(pid, "unreadable", exc.errno)
"""


def hz_env_canary(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py(ENVIRON))}


READ_FILES = """
import json, os, sys
report = {}
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            report[path] = "read: %r" % f.read(200)
    except OSError as exc:
        report[path] = "blocked: %d" % (exc.errno or 0)
    try:
        report[path + " (dir)"] = sorted(os.listdir(os.path.dirname(path)))
    except OSError as exc:
        report[path + " (dir)"] = "blocked: %d" % (exc.errno or 0)
print(json.dumps(report))
"""


def hz_canary_files(b: SandboxBackend, h: Host) -> Outcome:
    request = py(READ_FILES)
    request.argv.extend(str(p) for p in h.canary_files)
    return {"run": b.run(request)}


WRITE_FILES = """
import json, sys
report = {}
for path in sys.argv[1:]:
    try:
        with open(path, "w") as f:
            f.write("written from the sandbox")
        report[path] = "written"
    except OSError as exc:
        report[path] = "blocked: %d" % (exc.errno or 0)
print(json.dumps(report))
"""


def hz_forbidden_writes(b: SandboxBackend, h: Host) -> Outcome:
    request = py(WRITE_FILES)
    request.argv.extend(str(p) for p in h.forbidden_writes)
    return {"run": b.run(request)}


PERSIST_WRITE = """
import os
for d in ["/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~")]:
    try:
        open(os.path.join(d, "persisted.txt"), "w").write("left behind")
    except OSError:
        pass
print("wrote")
"""
PERSIST_READ = """
import json, os
print(json.dumps({d: os.path.exists(os.path.join(d, "persisted.txt"))
                  for d in ["/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~")]}))
"""


def hz_persistence(b: SandboxBackend, h: Host) -> Outcome:
    return {"write": b.run(py(PERSIST_WRITE)), "run": b.run(py(PERSIST_READ))}


def hz_kill_all(b: SandboxBackend, h: Host) -> Outcome:
    run = b.run(py(GUARD + "import os\ntry:\n    os.kill(-1, 9)\nexcept OSError as exc:\n    print('kill failed', exc)\nprint('survived')"))
    return {"run": run, "sentinel_alive": h.sentinel.poll() is None}


DAEMON = f"""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{DAEMON_SLEEP}"])
    os._exit(0)
os.wait()
time.sleep(0.2)
print("parent done")
"""


def hz_daemon(b: SandboxBackend, h: Host) -> Outcome:
    run = b.run(py(DAEMON))
    return {"run": run, "survivors": wait_until_gone(f"sleep\0{DAEMON_SLEEP}")}


def hz_segfault(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py("import ctypes\nctypes.string_at(0)"))}


INVALID_UTF8 = b"\xff\xfe\x80 not utf-8\n"


def hz_invalid_utf8(b: SandboxBackend, h: Host) -> Outcome:
    code = f"import sys\nsys.stdout.buffer.write({INVALID_UTF8!r})\nsys.stderr.buffer.write(b'\\xc3\\x28')"
    return {"run": b.run(py(code))}


def hz_unread_stdin(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py("print('ignored my stdin')", stdin=b"z" * (48 << 20)))}


UNSHARE = """
import ctypes, json, shutil, subprocess
report = {}
if shutil.which("unshare"):
    done = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True, text=True)
    report["cli"] = [done.returncode, done.stdout.strip(), done.stderr.strip()[-200:]]
libc = ctypes.CDLL(None, use_errno=True)
report["syscall"] = [libc.unshare(0x10000000), ctypes.get_errno()]  # CLONE_NEWUSER
print(json.dumps(report))
"""


def hz_unshare(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py(UNSHARE))}


PARALLEL = """
import subprocess, threading, time
threads = [threading.Thread(target=time.sleep, args=(0.3,)) for _ in range(8)]
for t in threads:
    t.start()
procs = [subprocess.Popen(["true"]) for _ in range(4)]
print(sum(p.wait() == 0 for p in procs), "children ok", flush=True)
for t in threads:
    t.join()
"""


def hz_parallel(b: SandboxBackend, h: Host) -> Outcome:
    runs = b.run_many([py(PARALLEL) for _ in range(12)], max_workers=8)
    return {"runs": runs, "run": runs[0]}


# System calls Docker's default profile refuses (plus io_uring, which Docker 20.10 still allowed), by number:
# the job calls them raw through libc's syscall(), so no libc wrapper can hide a failure.
SYSCALLS = {
    "x86_64": {"io_uring_setup": 425, "add_key": 248, "request_key": 249, "keyctl": 250, "bpf": 321,
               "perf_event_open": 298, "userfaultfd": 323, "mount": 165, "unshare": 272, "setns": 308,
               "kexec_load": 246, "init_module": 175, "clone3": 435, "open_by_handle_at": 304},
    "aarch64": {"io_uring_setup": 425, "add_key": 217, "request_key": 218, "keyctl": 219, "bpf": 280,
                "perf_event_open": 241, "userfaultfd": 282, "mount": 40, "unshare": 97, "setns": 268,
                "kexec_load": 104, "init_module": 105, "clone3": 435, "open_by_handle_at": 265},
}
SECCOMP = """
import ctypes, errno, json, os, platform, socket, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
report = {}
for name, number in json.loads(sys.argv[1]).get(platform.machine(), {}).items():
    args = [ctypes.c_long(0x10000000 if name == "unshare" else 0)] + [ctypes.c_long(0)] * 5  # CLONE_NEWUSER
    result = libc.syscall(ctypes.c_long(number), *args)
    report[name] = "allowed" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
try:
    socket.socket(40, socket.SOCK_STREAM).close()  # AF_VSOCK: a way out of the VM
    report["socket_vsock"] = "allowed"
except OSError as exc:
    report["socket_vsock"] = errno.errorcode.get(exc.errno, "?")
report["personality_weird"] = "allowed" if libc.personality(ctypes.c_ulong(0x0040000)) >= 0 else "refused"
# What ordinary programs need keeps working: threads, fork, exec, pipes, sockets, clone via libc.
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
report["fork"] = os.WEXITSTATUS(os.waitpid(pid, 0)[1])
report["exec"] = subprocess.run(["true"]).returncode
left, right = socket.socketpair()
left.send(b"x")
report["socketpair"] = right.recv(1).decode()
print(json.dumps(report))
"""


def hz_seccomp(b: SandboxBackend, h: Host) -> Outcome:
    request = py(SECCOMP)
    request.argv.append(json.dumps(SYSCALLS))
    return {"run": b.run(request)}


DEV_SABOTAGE = """
import json, os
report = {}
def attempt(name, action):
    try:
        action()
        report[name] = "done"
    except OSError as exc:
        report[name] = "refused"
attempt("create", lambda: open("/dev/rf-junk", "wb").write(b"x" * (1 << 20)))
attempt("replace_stdin", lambda: (os.remove("/dev/stdin"), os.symlink("/dev/null", "/dev/stdin")))
attempt("remove_null", lambda: os.remove("/dev/null"))
attempt("chmod_dev", lambda: os.chmod("/dev", 0))
attempt("mkdir", lambda: os.mkdir("/dev/rf-dir"))
with open("/dev/null", "w") as null:
    null.write("device nodes stay usable")
report["zero"] = len(open("/dev/zero", "rb").read(16))
report["shm_writable"] = open("/dev/shm/x", "w").write("ok")
print(json.dumps(report))
"""


def hz_dev_read_only(b: SandboxBackend, h: Host) -> Outcome:
    return {"run": b.run(py(DEV_SABOTAGE))}


KERNEL_KNOBS = """
import json
report = {}
for knob, value in (("net/ipv4/ip_local_port_range", "40000 40001"), ("net/unix/max_dgram_qlen", "1"),
                    ("net/core/somaxconn", "1"), ("user/max_user_namespaces", "100"), ("kernel/hostname", "x")):
    try:
        with open("/proc/sys/" + knob, "w") as handle:
            handle.write(value)
        report[knob] = "written"
    except OSError as exc:
        report[knob] = "refused"
print(json.dumps(report))
"""


def hz_kernel_knobs(b: SandboxBackend, h: Host) -> Outcome:
    """Sysctls of the job's (or its worker's) namespaces: a later job of the worker would inherit them."""
    return {"run": b.run(py(KERNEL_KNOBS))}


HAZARDS: dict[str, Callable[[SandboxBackend, Host], Outcome]] = {
    name.removeprefix("hz_"): fn for name, fn in globals().items() if name.startswith("hz_")
}


def _run_hazard(fn: Callable[[SandboxBackend, Host], Outcome], b: SandboxBackend, h: Host) -> Outcome:
    outcome = fn(b, h)
    outcome["next"] = b.run(py("print('next run works')"))
    return outcome


@pytest.fixture(scope="module")
def outcomes(hazard_backend: SandboxBackend, host: Host) -> dict[str, Outcome | BaseException]:
    """Runs every hazard once on the backend, concurrently; maps hazard name -> outcome or the exception."""
    backend = hazard_backend
    assert not Path("/tmp/fill0").exists(), "a stray /tmp/fill0 on the host would hide a leak"
    results: dict[str, Outcome | BaseException] = {}
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {name: pool.submit(_run_hazard, fn, backend, host) for name, fn in HAZARDS.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as exc:
                results[name] = exc
    return results


def get(outcomes: dict[str, Outcome | BaseException], name: str) -> Outcome:
    outcome = outcomes[name]
    if isinstance(outcome, BaseException):
        raise outcome
    nxt = outcome["next"]
    assert nxt.status == "ok" and nxt.stdout == b"next run works\n", f"backend broken after {name}: {nxt}"
    return outcome


def report_of(run: ExecResult) -> Any:
    assert run.status == "ok", f"{run.status}: {run.reason} {run.stderr_text[-500:]}"
    return json.loads(run.stdout)


# -- the tests ----------------------------------------------------------------------------------------


def test_infinite_loop_times_out(outcomes: dict[str, Any]) -> None:
    run = get(outcomes, "infinite_loop")["run"]
    assert run.status == "timeout", run
    assert run.wall_s < LIMITS.wall_s + 3


def test_sleep_is_cut_at_the_wall_clock_limit(outcomes: dict[str, Any]) -> None:
    run = get(outcomes, "sleep")["run"]
    assert run.status == "timeout", run
    assert 1.4 <= run.wall_s < 1.5 + 3


# Processes a backend may add to a job's own (bwrap and its init, a warm worker and the job's pid 1).
BACKEND_OVERHEAD_PIDS = 5


@pytest.mark.parametrize("variant", ["fork_bomb", "fork_bomb_inline"])
def test_fork_bomb_is_bounded_and_host_can_still_fork(outcomes: dict[str, Any], variant: str) -> None:
    outcome = get(outcomes, variant)
    assert b"NOT ISOLATED" not in outcome["run"].stdout
    assert outcome["run"].status in ("timeout", "runtime_error"), outcome["run"]
    assert outcome["host_spawns_ok"]
    if variant == "fork_bomb":  # the inline variant's processes carry the warm worker's command line
        assert 0 < outcome["peak_processes"] <= LIMITS.pids + BACKEND_OVERHEAD_PIDS, outcome["peak_processes"]


def test_thread_bomb_is_bounded(outcomes: dict[str, Any]) -> None:
    outcome = get(outcomes, "thread_bomb")
    run = outcome["run"]
    assert run.status == "ok", run
    started = int(run.stdout.split()[0])
    assert 0 < started < LIMITS.pids, run.stdout
    assert outcome["host_spawns_ok"]


def test_memory_bomb_hits_the_memory_limit(outcomes: dict[str, Any]) -> None:
    run = get(outcomes, "memory_bomb")["run"]
    assert run.status == "memory", run


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_endless_output_is_capped(outcomes: dict[str, Any], stream: str) -> None:
    run = get(outcomes, f"endless_{stream}")["run"]
    assert run.status == "output_limit", run
    assert run.truncated
    captured = getattr(run, stream)
    assert 0 < len(captured) <= LIMITS.output_bytes
    assert set(captured) == {ord("x" if stream == "stdout" else "y")}


def test_filling_tmp_shm_workdir_and_root_is_bounded(outcomes: dict[str, Any]) -> None:
    report = report_of(get(outcomes, "fill_disks")["run"])
    limit = LIMITS.tmp_mb << 20
    for directory, (written, error) in report.items():
        assert error is not None, f"{directory}: 4 GiB written without an error"
        assert written <= limit, f"{directory}: {written} bytes written, more than tmp_mb"
    assert report["/"][0] == 0, "the root file system must be read-only"
    assert report["/tmp"][1] in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    assert not Path("/tmp/fill0").exists() and not Path("/fill0").exists()


def test_network_is_unreachable(outcomes: dict[str, Any]) -> None:
    outcome = get(outcomes, "network")
    report = report_of(outcome["run"])
    assert all(value.startswith("blocked") for value in report.values()), report
    assert not outcome["accepted"], "the host's loopback listener got a connection from the sandbox"


def test_parent_environment_is_invisible(outcomes: dict[str, Any], host: Host) -> None:
    run = get(outcomes, "env_canary")["run"]
    assert run.status == "ok", run
    assert host.secret.encode() not in run.stdout
    assert b"RF_HAZARD_CANARY" not in run.stdout
    assert b"/work/main" not in run.stdout and str(PROJECT).encode() not in run.stdout


def test_host_files_are_unreadable(outcomes: dict[str, Any], host: Host) -> None:
    run = get(outcomes, "canary_files")["run"]
    report = report_of(run)
    assert host.secret.encode() not in run.stdout
    for path in host.canary_files:
        assert report[str(path)].startswith("blocked"), (path, report[str(path)])
        listing = report[f"{path} (dir)"]
        assert isinstance(listing, str) or path.name not in listing, (path, listing)


def test_writes_to_etc_usr_and_project_fail(outcomes: dict[str, Any], host: Host) -> None:
    report = report_of(get(outcomes, "forbidden_writes")["run"])
    for path in host.forbidden_writes:
        assert report[str(path)].startswith("blocked"), (path, report[str(path)])
        assert not path.exists(), f"{path} appeared on the host"


def test_files_do_not_persist_between_runs(outcomes: dict[str, Any]) -> None:
    outcome = get(outcomes, "persistence")
    assert outcome["write"].status == "ok", outcome["write"]
    report = report_of(outcome["run"])
    assert not any(report.values()), report


def test_kill_all_cannot_reach_the_host(outcomes: dict[str, Any]) -> None:
    outcome = get(outcomes, "kill_all")
    assert outcome["sentinel_alive"], "os.kill(-1, 9) in the sandbox killed a host process"
    assert outcome["run"].status == "ok" and outcome["run"].stdout.endswith(b"survived\n"), outcome["run"]


def test_daemon_does_not_outlive_its_run(outcomes: dict[str, Any]) -> None:
    outcome = get(outcomes, "daemon")
    run = outcome["run"]
    assert run.status == "ok" and run.stdout == b"parent done\n", run
    assert run.wall_s < LIMITS.wall_s, "the run waited for its daemon"
    assert outcome["survivors"] == [], "a daemonised process survived its sandbox"


def test_segfault_is_a_runtime_error_with_its_signal(outcomes: dict[str, Any]) -> None:
    run = get(outcomes, "segfault")["run"]
    assert run.status == "runtime_error", run
    assert run.signal == signal.SIGSEGV, run


def test_invalid_utf8_output_is_kept_as_bytes(outcomes: dict[str, Any]) -> None:
    run = get(outcomes, "invalid_utf8")["run"]
    assert run.status == "ok", run
    assert run.stdout == INVALID_UTF8
    assert run.stderr == b"\xc3\x28"
    assert "\ufffd" in run.stdout_text


def test_huge_unread_stdin_does_not_hang(outcomes: dict[str, Any]) -> None:
    run = get(outcomes, "unread_stdin")["run"]
    assert run.status == "ok", run
    assert run.stdout == b"ignored my stdin\n"


def test_nested_user_namespaces_are_refused(outcomes: dict[str, Any]) -> None:
    report = report_of(get(outcomes, "unshare")["run"])
    assert report["syscall"][0] == -1, report
    if "cli" in report:
        assert report["cli"][0] != 0, report


def test_parallel_sandboxes_do_not_fail_spuriously(outcomes: dict[str, Any]) -> None:
    runs = get(outcomes, "parallel")["runs"]
    for run in runs:
        assert run.status == "ok", run
        assert run.stdout.startswith(b"4 children ok"), run


def test_no_process_outlives_the_hazards(outcomes: dict[str, Any]) -> None:
    assert len(outcomes) == len(HAZARDS)
    assert wait_until_gone(TOKEN) == [], "processes of a hazard job are still running on the host"


def test_seccomp_refuses_what_dockers_default_profile_refuses(outcomes: dict[str, Any]) -> None:
    report = report_of(get(outcomes, "seccomp")["run"])
    machine = os.uname().machine
    if machine not in SYSCALLS:
        pytest.skip(f"NO SYSCALL NUMBERS FOR {machine}: only the portable checks ran")
    expected = {name: "EPERM" for name in SYSCALLS[machine]}
    expected["clone3"] = "ENOSYS"  # so that libc falls back to clone, whose flags the filter reads
    assert {name: report[name] for name in expected} == expected
    assert report["socket_vsock"] == "EPERM" and report["personality_weird"] == "refused"
    assert (report["fork"], report["exec"], report["socketpair"]) == (7, 0, "x")


def test_dev_is_read_only_but_its_devices_work(outcomes: dict[str, Any]) -> None:
    report = report_of(get(outcomes, "dev_read_only")["run"])
    for sabotage in ("create", "replace_stdin", "remove_null", "chmod_dev", "mkdir"):
        assert report[sabotage] == "refused", (sabotage, report)
    assert report["zero"] == 16 and report["shm_writable"] == 2


def test_kernel_knobs_cannot_be_changed(outcomes: dict[str, Any]) -> None:
    report = report_of(get(outcomes, "kernel_knobs")["run"])
    assert set(report.values()) == {"refused"}, report

