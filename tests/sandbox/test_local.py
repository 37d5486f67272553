"""The local (bubblewrap) backend's own guarantees, beyond the shared hazard suite: what the job can see,
who it runs as, how limits are applied, and how backends are chosen."""

from __future__ import annotations

import errno
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import rewardforge.sandbox as sandbox
from rewardforge.sandbox import (
    ExecRequest,
    InsecureBackend,
    InsecureSandboxWarning,
    Limits,
    LocalBackend,
    SandboxBackend,
    SandboxError,
    get_backend,
)
from rewardforge.sandbox import local as local_module
from rewardforge.sandbox.cgroups import SlotCgroup, controller_parents
from rewardforge.sandbox.local import SLOT_OVERHEAD_MB, SandboxWeakeningWarning
from rewardforge.sandbox.seccomp import SeccompUnsupported
from rewardforge.sandbox.slots import DEFAULT_BASE_UID, SlotPool
from rewardforge.sandbox.warm import WARM_OVERHEAD_PIDS

FAST = Limits(wall_s=5, cpu_s=3)


def run_py(backend: SandboxBackend, code: str, **fields: object) -> dict:
    result = backend.run(ExecRequest(argv=["python3", "-c", textwrap.dedent(code)], limits=FAST, **fields))
    assert result.status == "ok", result
    return json.loads(result.stdout)


INSPECT = """
import json, os, sys
def readable(path):
    try:
        return open(path, "rb").read().decode()
    except OSError:
        return None
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
open_fds = []
for fd in range(3, 256):
    try:
        os.fstat(fd)
        open_fds.append(fd)
    except OSError:
        pass
try:
    open("/newfile", "w")
    root_writable = True
except OSError:
    root_writable = False
tmp = os.statvfs("/tmp")
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "pid1_environ": readable("/proc/1/environ"),
    "root": sorted(os.listdir("/")), "etc": sorted(os.listdir("/etc")), "open_fds": open_fds,
    "root_writable": root_writable, "tmp_bytes": tmp.f_blocks * tmp.f_frsize,
    "cwd": os.getcwd(), "executable": os.path.realpath(sys.executable), "hostname": os.uname().nodename,
    "sid": os.getsid(0), "env": dict(os.environ),
}))
"""


@pytest.fixture(scope="module")
def inspected(local_backend: LocalBackend) -> dict:
    return run_py(local_backend, INSPECT, env={"ONLY_THIS": "1"})


def test_job_runs_as_an_unprivileged_slot_uid_without_capabilities(inspected: dict) -> None:
    if os.geteuid() == 0:
        assert DEFAULT_BASE_UID <= inspected["uid"] < DEFAULT_BASE_UID + 1024
    assert inspected["uid"] != 0 and inspected["gid"] != 0
    assert inspected["groups"] in ([], [inspected["gid"]])
    assert int(inspected["cap_eff"], 16) == 0 and int(inspected["cap_bnd"], 16) == 0
    assert inspected["no_new_privs"] == "1"


def test_bwrap_pid1_has_an_empty_environment(inspected: dict) -> None:
    assert inspected["pid1_environ"] in ("", None)  # None: hidden from the job altogether (warm workers)


def test_job_environment_is_exactly_the_requested_one_plus_defaults(inspected: dict) -> None:
    env = dict(inspected["env"])
    assert env.pop("ONLY_THIS") == "1"
    env.pop("PWD", None)  # set by bwrap --chdir
    assert env == sandbox.jobs.DEFAULT_ENV


def test_job_sees_only_usr_its_workdir_and_sized_tmpfs(inspected: dict) -> None:
    assert set(inspected["root"]) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "proc", "dev",
                                      "tmp", "work", "etc"}
    assert inspected["etc"] == ["group", "passwd"]
    assert not inspected["root_writable"]
    assert inspected["cwd"] == "/work"
    assert inspected["tmp_bytes"] == FAST.tmp_mb << 20
    assert inspected["hostname"] == "sandbox"
    # A session led from outside the pid namespace reads as 0: a non-zero id means bwrap made a new one.
    assert inspected["sid"] != 0, "the job must be in a session of its own (no terminal or signals from ours)"


def test_no_descriptor_leaks_into_the_job(inspected: dict) -> None:
    assert inspected["open_fds"] == []


def test_python_names_map_to_the_sandbox_interpreter(inspected: dict, local_backend: LocalBackend) -> None:
    assert inspected["executable"] == os.path.realpath(local_backend.python)


def test_files_stdin_and_exec_bits(local_backend: LocalBackend) -> None:
    files = {
        "main.py": "import sys\nfrom pkg.helper import twice\nprint(twice(sys.stdin.read().strip()))\n",
        "pkg/__init__.py": "",
        "pkg/helper.py": "def twice(s):\n    return s * 2\n",
        "run.sh": "#!/bin/sh\necho shell says $1\n",
        "blob.bin": bytes(range(256)),
    }
    result = local_backend.run(ExecRequest(files=files, argv=["python3", "main.py"], stdin="ab\n", limits=FAST))
    assert result.status == "ok", result
    assert result.stdout == b"abab\n"
    shell = local_backend.run(ExecRequest(files=files, argv=["./run.sh", "hi"], limits=FAST))
    assert shell.stdout == b"shell says hi\n", shell
    blob = local_backend.run(ExecRequest(files=files, argv=["python3", "-c", "import sys; sys.stdout.buffer.write(open('blob.bin','rb').read())"], limits=FAST))
    assert blob.stdout == bytes(range(256))


@pytest.mark.parametrize("bad", ["/etc/passwd", "../escape.py", "a/../../b", ""])
def test_file_paths_must_stay_inside_the_workdir(local_backend: LocalBackend, bad: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        local_backend.run(ExecRequest(files={bad: "x"}, argv=["true"]))


def test_workdir_is_writable_and_limited_by_file_size(local_backend: LocalBackend) -> None:
    limits = Limits(wall_s=5, file_size_mb=1, tmp_mb=8)
    code = textwrap.dedent("""
        import errno
        open("small.txt", "w").write("ok")
        try:
            open("big.bin", "wb").write(b"0" * (2 << 20))
            print("big written")
        except OSError as exc:
            print("big refused", errno.errorcode[exc.errno])
    """)
    result = local_backend.run(ExecRequest(argv=["python3", "-c", code], limits=limits))
    assert result.status == "ok", result
    assert result.stdout == b"big refused EFBIG\n"


def test_unknown_command_is_a_runtime_error_not_a_sandbox_error(local_backend: LocalBackend) -> None:
    result = local_backend.run(ExecRequest(argv=["no-such-program-here"], limits=FAST))
    assert result.status == "runtime_error", result
    assert result.exit_code not in (0, None)


def test_exit_codes_and_signals_are_reported(local_backend: LocalBackend) -> None:
    code = local_backend.run(ExecRequest(argv=["python3", "-c", "raise SystemExit(7)"], limits=FAST))
    assert (code.status, code.exit_code, code.signal) == ("runtime_error", 7, None)
    killed = local_backend.run(ExecRequest(argv=["python3", "-c", "import os; os.kill(os.getpid(), 15)"], limits=FAST))
    assert (killed.status, killed.exit_code, killed.signal) == ("runtime_error", None, signal.SIGTERM)


def test_cpu_limit_is_a_timeout_before_the_wall_clock(local_backend: LocalBackend) -> None:
    result = local_backend.run(ExecRequest(argv=["python3", "-c", "while True: pass"], limits=Limits(wall_s=20, cpu_s=1)))
    assert result.status == "timeout", result
    assert result.signal == signal.SIGXCPU
    assert "CPU" in (result.reason or "")
    assert result.wall_s < 10


def _limit_files(controller: str, directory: Path) -> str:
    """The value of a slot's limit for `controller`, read from v1 or v2 files."""
    v2 = (directory / "cgroup.controllers").exists()
    name = {"pids": "pids.max", "memory": "memory.max" if v2 else "memory.limit_in_bytes",
            "cpu": "cpu.max" if v2 else "cpu.cfs_quota_us"}[controller]
    return (directory / name).read_text().split()[0]


def test_slot_cgroups_bound_processes_memory_and_cpu_where_writable(local_backend: LocalBackend) -> None:
    parents = controller_parents()
    if not parents:
        pytest.skip("NO WRITABLE CGROUP ON THIS MACHINE: only rlimits bound jobs here")
    marker = f"{time.time_ns() % 10**6 + 1}.5"
    limits = Limits(wall_s=1.5, pids=9, memory_mb=200)
    worker = threading.Thread(target=local_backend.run, args=(ExecRequest(argv=["sleep", marker], limits=limits),))
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while not (pids := _pids_with(f"sleep\0{marker}")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pids, "the sandboxed sleep never started"
        expected = {"pids": str(9 + local_backend.overhead_pids), "memory": str((200 + SLOT_OVERHEAD_MB) << 20),
                    "cpu": str(int(local_backend.cpus * 100_000))}
        for controller, parent in parents.items():
            holding = [g for g in parent.glob("slot-*") if str(pids[0]) in (g / "cgroup.procs").read_text().split()]
            assert len(holding) == 1, f"the job is not in exactly one slot {controller} cgroup"
            assert _limit_files(controller, holding[0]) == expected[controller], controller
    finally:
        worker.join()


def test_sandbox_dies_with_its_parent(tmp_path: Path) -> None:
    marker = f"{os.getpid() % 1000 + 1}.{time.time_ns() % 10**6:06d}"
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        from rewardforge.sandbox import ExecRequest, Limits, LocalBackend
        print("starting", flush=True)
        LocalBackend().run(ExecRequest(argv=["sleep", "{marker}"], limits=Limits(wall_s=60)))
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"starting\n"
        deadline = time.monotonic() + 10
        while not _pids_with(f"sleep\0{marker}") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _pids_with(f"sleep\0{marker}"), "the sandboxed sleep never started"
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while _pids_with(f"sleep\0{marker}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _pids_with(f"sleep\0{marker}"), "the sandbox outlived the process that started it"


def _pids_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path("/proc", entry, "cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_run_many_keeps_order_and_overlapping_jobs_never_share_a_uid(local_backend: LocalBackend) -> None:
    code = "import os, sys, time; start = time.monotonic(); time.sleep(0.2); print(sys.argv[1], os.getuid(), start, time.monotonic())"
    requests = [ExecRequest(argv=["python3", "-c", code, str(i)], limits=FAST) for i in range(8)]
    results = local_backend.run_many(requests, max_workers=8)
    rows = [r.stdout.split() for r in results]
    assert [row[0] for row in rows] == [str(i).encode() for i in range(8)]
    spans = [(int(row[1]), float(row[2]), float(row[3])) for row in rows]
    overlapping = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:] if a[1] < b[2] and b[1] < a[2]]
    assert overlapping, "no two jobs ran at the same time"
    if os.geteuid() == 0:
        assert all(a[0] != b[0] for a, b in overlapping), "two jobs ran at once under one uid"


def test_workers_started_by_a_finished_thread_pool_keep_working(local_backend: LocalBackend) -> None:
    for _ in range(2):  # each run_many's threads are gone when it returns
        results = local_backend.run_many([ExecRequest(argv=["python3", "-c", "print(1)"]) for _ in range(4)])
        assert [r.status for r in results] == ["ok"] * 4, results
    assert local_backend.run(ExecRequest(argv=["python3", "-c", "print(2)"])).stdout == b"2\n"


def test_warm_job_leaves_nothing_behind_in_its_slot(local_backend: LocalBackend) -> None:
    if local_backend.overhead_pids != WARM_OVERHEAD_PIDS:
        pytest.skip("this backend runs cold")
    daemon = "import os\nif os.fork() == 0:\n    os.setsid()\n    import time\n    time.sleep(100)\nprint('spawned')"
    results = local_backend.run_many([ExecRequest(argv=["python3", "-c", daemon], limits=FAST)] * 4)
    assert all(r.stdout == b"spawned\n" for r in results), results
    if "pids" not in controller_parents():
        pytest.skip("NO WRITABLE PIDS CGROUP ON THIS MACHINE: cannot list a slot's processes")
    workers = list(local_backend._warm._idle)  # type: ignore[union-attr]  # all idle once run_many returns
    assert workers
    for worker in workers:
        assert worker.slot.cgroup is not None
        procs = worker.slot.cgroup.pids()
        assert len(procs) == 3, f"{worker.slot}: {procs} (a warm slot holds bwrap, its init and the worker)"


FORK_COUNT = """
import os, time
started = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        started += 1
except OSError as exc:
    print(started, exc.errno)
"""


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_each_job_gets_its_own_process_budget(warm: bool) -> None:
    backend = LocalBackend(warm=warm, slots=2)
    try:
        request = ExecRequest(argv=["python3", "-c", FORK_COUNT], limits=Limits(wall_s=5, pids=12))
        results = backend.run_many([request] * 2, max_workers=2)  # at once: a shared budget would show
    finally:
        backend.close()
    for result in results:
        started, error = map(int, result.stdout.split())
        assert error == 11, result  # EAGAIN
        assert 8 <= started <= 12, f"{started} children with pids=12"


HIDDEN = """
import os
me = os.readlink("/proc/self")
seen = {}
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid != me:
        try:
            seen[pid] = open("/proc/%s/cmdline" % pid, "rb").read()
        except OSError as exc:
            seen[pid] = exc.errno
print({pid: value for pid, value in seen.items() if value not in (2, b"")})
"""


def test_warm_worker_is_invisible_to_its_jobs(local_backend: LocalBackend) -> None:
    if local_backend.overhead_pids != WARM_OVERHEAD_PIDS:
        pytest.skip("this backend runs cold")
    result = local_backend.run(ExecRequest(argv=["python3", "-c", HIDDEN], limits=FAST))
    assert result.status == "ok", result
    assert result.stdout == b"{}\n", "the job can see processes outside its own tree"


MEMORY_SCAN = """
import hashlib, re, sys
wanted = sys.argv[1]
found = 0
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
    for line in maps:
        span, perms = line.split()[:2]
        if not perms.startswith("r"):
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(start)
            chunk = mem.read(end - start)
        except (OSError, ValueError, OverflowError):
            continue
        for match in re.finditer(rb"SECRET-[0-9a-f]{24}", chunk):
            found += hashlib.sha256(match.group()).hexdigest() == wanted
print(found)
"""


def test_a_warm_job_cannot_find_an_earlier_jobs_data_in_memory() -> None:
    import hashlib
    import secrets

    secret = f"SECRET-{secrets.token_hex(12)}"
    backend = LocalBackend(slots=1)  # one worker: the second job forks from the one that served the first
    try:
        first = backend.run(ExecRequest(files={"a.py": f"# {secret}\nimport sys\nprint(len(sys.stdin.read()))"},
                                        argv=["python3", "a.py"], stdin=secret * 100, limits=FAST))
        assert first.status == "ok", first
        digest = hashlib.sha256(secret.encode()).hexdigest()
        scan = backend.run(ExecRequest(argv=["python3", "-c", MEMORY_SCAN, digest], limits=FAST))
        # The scanner works: a job that holds the secret itself finds it.
        control = backend.run(ExecRequest(argv=["python3", "-c", "import sys\nkept = sys.stdin.read()\n" + MEMORY_SCAN,
                                                digest], stdin=secret, limits=FAST))
    finally:
        backend.close()
    assert scan.status == "ok", scan
    assert scan.stdout == b"0\n", "the second job found the first job's data in its memory"
    assert control.status == "ok" and int(control.stdout) >= 1, control


def test_warm_workers_are_recycled_after_max_jobs() -> None:
    backend = LocalBackend(slots=1, max_jobs_per_worker=2)
    try:
        pids = []
        for _ in range(5):
            result = backend.run(ExecRequest(argv=["python3", "-c", "import os; print(os.readlink('/proc/self'))"]))
            assert result.status == "ok", result
            pids.append(int(result.stdout))
    finally:
        backend.close()
    # Outer pids grow within one worker's namespace and restart in a new one: 3 workers for 5 jobs.
    restarts = sum(1 for a, b in itertools.pairwise(pids) if b < a)
    assert restarts == 2, pids


def test_slot_pools_in_one_host_never_share_a_uid() -> None:
    base = DEFAULT_BASE_UID + 100_000  # away from the uids the session's warm workers hold
    first, second = SlotPool(2, base_uid=base, uid_range=4), SlotPool(2, base_uid=base, uid_range=4)
    held: list[int] = []
    barrier = threading.Barrier(4)

    def hold(pool: SlotPool) -> None:
        with pool.claim() as slot:
            held.append(slot.index)
            barrier.wait(timeout=5)

    threads = [threading.Thread(target=hold, args=(pool,)) for pool in (first, first, second, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(held) == [0, 1, 2, 3]


def test_missing_bwrap_is_a_sandbox_error_with_the_fix() -> None:
    backend = LocalBackend(bwrap="/nonexistent/bwrap", method="bwrap")
    assert not backend.available()
    result = backend.run(ExecRequest(argv=["true"]))
    assert result.status == "sandbox_error"
    assert "bubblewrap" in (result.reason or "")


def test_without_bwrap_auto_falls_back_to_unshare_with_the_same_isolation() -> None:
    backend = LocalBackend(bwrap="/nonexistent/bwrap")
    try:
        assert backend.method == "unshare"
        inspected = run_py(backend, INSPECT)
    finally:
        backend.close()
    assert int(inspected["cap_eff"], 16) == 0 and int(inspected["cap_bnd"], 16) == 0
    assert inspected["no_new_privs"] == "1"
    assert inspected["etc"] == ["group", "passwd"] and not inspected["root_writable"]
    assert inspected["tmp_bytes"] == FAST.tmp_mb << 20 and inspected["hostname"] == "sandbox"
    assert inspected["open_fds"] == [] and inspected["sid"] != 0
    with pytest.raises(ValueError, match="warm"):
        LocalBackend(method="unshare", warm=False)


def test_get_backend_by_name() -> None:
    assert isinstance(get_backend("local"), LocalBackend)
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        get_backend("chroot")


def test_insecure_backend_is_loud_and_only_used_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.warns(InsecureSandboxWarning, match="WITHOUT isolation"):
        backend = get_backend("insecure")
    assert isinstance(backend, InsecureBackend)
    result = backend.run(ExecRequest(argv=["python3", "-c", "import os; print(os.getuid())"], limits=FAST))
    assert result.status == "ok", result
    if os.geteuid() == 0:
        assert int(result.stdout) >= DEFAULT_BASE_UID, "the insecure backend must not run jobs as root"

    def no_docker(**options: object) -> SandboxBackend:
        raise ImportError("docker SDK not installed")

    monkeypatch.setattr(sandbox, "_docker_backend", no_docker)
    assert isinstance(get_backend("auto"), LocalBackend)
    with pytest.raises(SandboxError, match="insecure' explicitly"):
        get_backend("auto", bwrap="/nonexistent/bwrap", method="bwrap")


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_trusted_init_job_runs_as_pid_1_and_its_exit_status_comes_back(local_backend: LocalBackend, warm: bool) -> None:
    """Cold runs too: there bwrap's own pid 1 (the job's uid, dumpable, holding the job's stdout) could be
    ptraced by the harness's test programs and made to write into its report (tests/sandbox/test_redteam.py)."""
    backend = local_backend if warm else LocalBackend(warm=False)
    code = "import os, sys; print(os.getpid(), flush=True); sys.exit(3)"
    plain = backend.run(ExecRequest(argv=["python3", "-c", code], limits=FAST))
    trusted = backend.run(ExecRequest(argv=["python3", "-c", code], limits=FAST, trusted_init=True))
    assert (plain.stdout, plain.exit_code, plain.status) == (b"2\n", 3, "runtime_error")
    assert (trusted.stdout, trusted.exit_code, trusted.status) == (b"1\n", 3, "runtime_error")
    if not warm:  # no process but the job itself is left in the job's pid namespace
        only = backend.run(ExecRequest(argv=["python3", "-c", "import os; print(sorted(p for p in os.listdir("
                                             "'/proc') if p.isdigit()))"], limits=FAST, trusted_init=True))
        assert only.stdout == b"['1']\n", only


def test_trusted_init_job_takes_its_children_down_when_it_ends(local_backend: LocalBackend) -> None:
    marker = f"{os.getpid() % 1000 + 2}.{time.time_ns() % 10**6:06d}"
    code = f"import subprocess; subprocess.Popen(['sleep', '{marker}'], start_new_session=True); print('left')"
    result = local_backend.run(ExecRequest(argv=["python3", "-c", code], limits=FAST, trusted_init=True))
    assert result.status == "ok" and result.stdout == b"left\n", result
    deadline = time.monotonic() + 5
    while _pids_with(f"sleep\0{marker}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _pids_with(f"sleep\0{marker}"), "a child of a pid-1 job outlived it"



def test_preloaded_module_is_in_every_job_and_no_job_can_change_it_for_the_next() -> None:
    backend = LocalBackend(slots=1)
    try:
        assert backend.preload_python("rf_preloaded_probe", "VALUE = 41\n")
        probe = ("import sys; m = sys.modules.get('rf_preloaded_probe'); "
                 "print(m.VALUE if m else 'missing'); m.VALUE = 99 if m else None")
        request = ExecRequest(argv=["python3", "-I", "-S", "-B", "-c", probe], limits=Limits(wall_s=10))
        first, second = backend.run(request), backend.run(request)
        assert (first.status, first.stdout_text) == ("ok", "41\n")
        assert second.stdout_text == "41\n"  # the first job's change died with its fork
        assert LocalBackend(warm=False).preload_python("x", "") is False  # cold runs ship files instead
    finally:
        backend.close()


@pytest.mark.parametrize(("missing", "says"), [
    ("memory", "NO WRITABLE MEMORY CGROUP.*memory_mb bounds each process"),
    ("cpu", "NO WRITABLE CPU CGROUP.*not CPU-capped"),
    ("pids", "NO WRITABLE PIDS CGROUP"),
])
def test_a_missing_cgroup_controller_is_said_loudly_at_start(monkeypatch: pytest.MonkeyPatch, missing: str,
                                                             says: str) -> None:
    monkeypatch.setattr(local_module, "missing_controllers", lambda: [missing])
    monkeypatch.setattr(local_module, "_warned", set())
    with pytest.warns(SandboxWeakeningWarning, match=says):
        backend = LocalBackend(warm=False)
    assert f"{missing} cgroup" in backend.describe()["missing"]  # type: ignore[operator]


def test_without_a_seccomp_table_the_backend_warns_and_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported() -> bytes:
        raise SeccompUnsupported("no seccomp syscall table for 'riscv64'")

    monkeypatch.setattr(local_module, "bpf_filter", unsupported)
    monkeypatch.setattr(local_module, "_warned", set())
    with pytest.warns(SandboxWeakeningWarning, match="NO SECCOMP FILTER"):
        backend = LocalBackend(slots=1)
    try:
        assert backend.describe()["seccomp"] is None
        assert backend.run(ExecRequest(argv=["python3", "-c", "print(1)"], limits=FAST)).stdout == b"1\n"
    finally:
        backend.close()


def test_describe_reports_the_isolation_in_force(local_backend: LocalBackend) -> None:
    info = local_backend.describe()
    assert info["seccomp"] == "docker-default" and info["cpus_per_job"] == 1.0
    assert set(info["cgroups"]) | {m.split()[0] for m in info["missing"] if m.endswith("cgroup")} == {  # type: ignore[arg-type, union-attr]
        "pids", "memory", "cpu"}


def test_a_slot_refusing_the_memory_limit_gets_a_fresh_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """cgroup v1 refuses a memory limit below what the slot still holds: the job then runs on a fresh worker
    rather than under the previous job's limit, and twice refused is a sandbox error, never an unlimited job."""
    if "memory" not in controller_parents():
        pytest.skip("NO WRITABLE MEMORY CGROUP ON THIS MACHINE")
    backend = LocalBackend(slots=1)
    try:
        first = backend.run(ExecRequest(argv=["python3", "-c", "import os; print(os.getpid())"], limits=FAST))
        refusals = iter([True])
        original = SlotCgroup.set_memory

        def refuse_once(self: SlotCgroup, limit: int) -> None:
            if next(refusals, False):
                raise OSError(errno.EBUSY, "Device or resource busy")
            original(self, limit)

        monkeypatch.setattr(SlotCgroup, "set_memory", refuse_once)
        workers_before = backend._warm._idle[:]  # type: ignore[union-attr]
        second = backend.run(ExecRequest(argv=["python3", "-c", "print('ran')"], limits=FAST))
        assert first.status == second.status == "ok" and second.stdout == b"ran\n"
        assert backend._warm._idle and backend._warm._idle[0] not in workers_before  # type: ignore[union-attr]

        def refuse(self: SlotCgroup, limit: int) -> None:
            raise OSError(errno.EBUSY, "Device or resource busy")

        monkeypatch.setattr(SlotCgroup, "set_memory", refuse)
        third = backend.run(ExecRequest(argv=["python3", "-c", "print('ran')"], limits=FAST))
        assert third.status == "sandbox_error" and "Device or resource busy" in (third.reason or ""), third
    finally:
        backend.close()
