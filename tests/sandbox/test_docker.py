"""The Docker backend against the real engine: container hardening, warm reuse without leaks, limits,
status classification, and failures of the engine itself. (The hazard suite runs on it too.)"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest

from rewardforge.sandbox.base import ExecRequest, Limits
from rewardforge.sandbox.docker import DockerBackend, _spec
from rewardforge.sandbox.docker_pool import LABEL

pytestmark = pytest.mark.docker

# Inside a container, pid 1 (the job agent) started at a different moment in each container: its start time
# identifies the container a job ran in.
CONTAINER_ID = "print(open('/proc/1/stat').read().split(')')[1].split()[19])"


@pytest.fixture(scope="module")
def docker_backend() -> Iterator[DockerBackend]:
    backend = DockerBackend(pool_size=2, jobs_per_container=50)
    problem = backend.unavailable_reason()
    if problem is not None:
        message = (f"Docker backend unavailable ({problem}). Run scripts/setup_docker.sh, or set "
                   "RF_SKIP_DOCKER=1 to skip the Docker tests.")
        if os.environ.get("RF_SKIP_DOCKER") == "1":
            pytest.skip("RF_SKIP_DOCKER=1: SKIPPING THE DOCKER BACKEND TESTS. " + message)
        pytest.fail(message, pytrace=False)
    yield backend
    backend.close()


def py(code: str, **kwargs: object) -> ExecRequest:
    return ExecRequest(argv=["python3", "-c", code], **kwargs)  # type: ignore[arg-type]


def test_runs_a_job_with_files_stdin_and_exact_environment(docker_backend: DockerBackend) -> None:
    program = (
        "import os, sys\n"
        "print(sys.stdin.read().upper(), open('data/in.txt').read(), os.getcwd(), os.getuid())\n"
        "print(os.environ['CANARY'], 'HOST_SECRET' in os.environ, file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    os.environ["HOST_SECRET"] = "must-not-leak"
    try:
        result = docker_backend.run(ExecRequest(
            files={"main.py": program, "data/in.txt": b"payload"}, argv=["python3", "main.py"],
            stdin="hello", env={"CANARY": "set-by-request"},
        ))
    finally:
        del os.environ["HOST_SECRET"]
    assert result.backend == "docker"
    assert result.status == "runtime_error" and result.exit_code == 3 and result.signal is None
    assert result.stdout_text.split() == ["HELLO", "payload", "/work", "10001"]
    assert result.stderr_text.split() == ["set-by-request", "False"]


def test_containers_are_locked_down(docker_backend: DockerBackend) -> None:
    limits = Limits(memory_mb=300, pids=40, tmp_mb=32)
    docker_backend.warm(limits)
    pool = docker_backend._pool
    assert pool is not None
    with pool.lease(_spec(limits)) as warm:
        warm.container.reload()
        host = warm.container.attrs["HostConfig"]
        config = warm.container.attrs["Config"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == host["MemorySwap"] > 300 << 20
    assert host["PidsLimit"] == 40 + 1  # the job's pids and the agent
    assert host["NanoCpus"] == 1_000_000_000
    assert not host["Init"]  # the agent is pid 1 and does an init's work (see docker_pool._create)
    assert config["Cmd"][:2] == ["python3", "-I"]
    assert host["Privileged"] is False
    assert host["LogConfig"]["Type"] == "json-file" and host["LogConfig"]["Config"]["max-size"] == "1m"
    assert set(host["Tmpfs"]) == {"/tmp", "/work", "/dev/pts"} and "size=32m" in host["Tmpfs"]["/work"]
    assert host["Tmpfs"]["/dev/pts"].startswith("ro,")  # no pseudo-terminals (tests/sandbox/test_redteam.py)
    assert "nr_inodes=" in host["Tmpfs"]["/tmp"] and "noexec" in host["Tmpfs"]["/tmp"]
    assert config["User"] == "10001:10001"
    assert config["Labels"][LABEL] == "1"
    assert not host.get("Binds") and not warm.container.attrs.get("Mounts")


def test_inside_no_network_no_capabilities_read_only_root(docker_backend: DockerBackend) -> None:
    program = (
        "import os, socket\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "print(status['CapEff'].strip(), status['CapBnd'].strip(), status['NoNewPrivs'].strip())\n"
        "print(sorted(os.listdir('/sys/class/net')))\n"
        "for path in ('/etc/x', '/usr/x', '/x'):\n"
        "    try:\n"
        "        open(path, 'w')\n"
        "        print('WROTE', path)\n"
        "    except OSError as e:\n"
        "        print(e.errno)\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
        "    print('CONNECTED')\n"
        "except OSError as e:\n"
        "    print('no network')\n"
    )
    result = docker_backend.run(py(program))
    assert result.status == "ok", result
    lines = result.stdout_text.splitlines()
    assert lines[0].split() == ["0000000000000000", "0000000000000000", "1"]
    assert lines[1] == "['lo']"
    assert lines[2:5] == ["30", "30", "30"]  # EROFS everywhere outside the tmpfs mounts
    assert lines[5] == "no network"


def test_warm_reuse_leaves_no_trace_between_jobs(docker_backend: DockerBackend) -> None:
    plant = (
        "import os, subprocess, sys\n"
        "for d in ('/tmp', '/work', '/dev/shm'):\n"
        "    open(d + '/planted', 'w').write('x')\n"
        "os.makedirs('/tmp/locked/inner'); os.chmod('/tmp/locked', 0)\n"
        "os.symlink('/usr', '/work/usr-link'); os.symlink('/tmp', '/tmp/locked-link')\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        import time; time.sleep(1000)\n"
        "    os._exit(0)\n"
        + CONTAINER_ID
    )
    probe = (
        "import os\n"
        "uid = str(os.getuid())\n"
        "mine = [p for p in os.listdir('/proc') if p.isdigit() and\n"
        "        open('/proc/%s/status' % p).read().split('Uid:')[1].split()[0] == uid]\n"
        "print(len(mine))\n"
        "print(sorted(os.listdir('/tmp') + os.listdir('/work') + os.listdir('/dev/shm')))\n"
        + CONTAINER_ID
    )
    seen = set()
    for _ in range(3):  # with two warm containers, three rounds reuse at least one of them
        planted = docker_backend.run(py(plant))
        assert planted.status == "ok", planted
        probed = docker_backend.run(py(probe))
        assert probed.status == "ok", probed
        count, listing, container = probed.stdout_text.splitlines()
        assert count == "2"  # the agent and the probe itself: the daemon is gone
        assert listing == "[]"
        seen.add(planted.stdout_text.strip())
        seen.add(container)
    assert len(seen) <= 2, "a container was replaced although no job asked for it"


def test_wall_timeout_kills_and_the_next_job_runs(docker_backend: DockerBackend) -> None:
    started = time.monotonic()
    result = docker_backend.run(py("while True: pass", limits=Limits(wall_s=1.0)))
    assert result.status == "timeout"
    assert time.monotonic() - started < 4
    assert docker_backend.run(py("print('alive')")).stdout == b"alive\n"


def test_memory_bomb_is_classified_memory(docker_backend: DockerBackend) -> None:
    result = docker_backend.run(py("b = bytearray(400 << 20); print(len(b))", limits=Limits(memory_mb=128)))
    assert result.status == "memory", result
    assert b"419430400" not in result.stdout


@pytest.mark.usefixtures("docker_backend")  # fails (or skips) clearly without an engine
def test_without_rlimit_as_the_cgroup_oom_kill_is_classified_memory() -> None:
    bomb = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))"
    with DockerBackend(pool_size=1, address_space_limit=False) as backend:
        result = backend.run(py(bomb, limits=Limits(memory_mb=128, wall_s=30)))
        assert result.status == "memory" and "OOM" in str(result.reason), result
        assert result.signal == signal.SIGKILL
        assert backend.run(py("print('after oom')")).stdout == b"after oom\n"


def test_endless_output_is_capped(docker_backend: DockerBackend) -> None:
    limits = Limits(output_bytes=10_000)
    result = docker_backend.run(py("import sys\nwhile True: sys.stderr.write('e' * 999)", limits=limits))
    assert result.status == "output_limit" and result.truncated
    assert len(result.stderr) == 10_000
    assert docker_backend.run(py("print(2 + 2)")).stdout == b"4\n"


def test_cpu_limit_stops_a_busy_job(docker_backend: DockerBackend) -> None:
    result = docker_backend.run(py("while True: pass", limits=Limits(cpu_s=1, wall_s=30)))
    assert result.status == "timeout" and result.signal == signal.SIGXCPU, result


def test_the_agent_is_out_of_the_jobs_reach(docker_backend: DockerBackend) -> None:
    attack = (
        "import ctypes, os, signal\n"
        "try:\n"
        "    os.kill(-1, signal.SIGKILL)  # nobody else to kill: pid 1 is skipped\n"
        "except ProcessLookupError:\n"
        "    print('ESRCH')\n"
        "for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGTERM):\n"
        "    os.kill(1, sig)\n"
        "for path in ('/proc/1/environ', '/proc/1/mem', '/proc/1/fd/1'):\n"
        "    try:\n"
        "        open(path, 'rb').read(1)\n"
        "        print('READ', path)\n"
        "    except OSError as e:\n"
        "        print(e.errno)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.ptrace(16, 1, None, None), ctypes.get_errno())  # PTRACE_ATTACH\n"
        "print('survived')\n"
    )
    result = docker_backend.run(py(attack))
    assert result.status == "ok", result
    # nobody to kill, EACCES on the agent's /proc files, EPERM for ptrace
    assert result.stdout_text.split() == ["ESRCH", "13", "13", "13", "-1", "1", "survived"]
    assert docker_backend.run(py("print('next')")).stdout == b"next\n"


@pytest.mark.usefixtures("docker_backend")  # fails (or skips) clearly without an engine
def test_run_many_keeps_order_and_recycles_after_n_jobs() -> None:
    with DockerBackend(pool_size=1, jobs_per_container=2) as backend:
        results = backend.run_many([py(f"print({i})\n" + CONTAINER_ID) for i in range(4)])
    assert [r.stdout_text.split()[0] for r in results] == ["0", "1", "2", "3"]
    containers = [r.stdout_text.split()[1] for r in results]
    assert containers[0] == containers[1] and containers[2] == containers[3]
    assert containers[1] != containers[2]


def test_bad_input_is_a_clear_error(docker_backend: DockerBackend) -> None:
    with pytest.raises(ValueError, match="relative"):
        docker_backend.run(ExecRequest(files={"../escape.py": "x"}, argv=["python3", "x"]))
    with pytest.raises(ValueError, match="argv"):
        docker_backend.run(ExecRequest(argv=[]))
    with pytest.raises(ValueError):
        DockerBackend(pool_size=0)


def test_missing_command_is_a_runtime_error(docker_backend: DockerBackend) -> None:
    result = docker_backend.run(ExecRequest(argv=["no-such-program"]))
    assert result.status == "runtime_error" and result.exit_code == 127
    assert b"no-such-program" in result.stderr


def test_engine_down_is_a_sandbox_error_and_answers_fast() -> None:
    backend = DockerBackend(base_url="unix:///nonexistent/docker.sock")
    started = time.monotonic()
    assert backend.available() is False
    assert "does not exist" in str(backend.unavailable_reason())
    result = backend.run(py("print(1)"))
    assert time.monotonic() - started < 2
    assert result.status == "sandbox_error" and result.reason
    backend.close()


def test_missing_image_is_a_sandbox_error_that_says_how_to_build(docker_backend: DockerBackend) -> None:
    backend = DockerBackend(image="rewardforge-sandbox:no-such-tag", pool_size=1)
    assert "image" in str(backend.unavailable_reason())
    result = backend.run(py("print(1)"))
    assert result.status == "sandbox_error"
    assert "rewardforge.sandbox.image build" in str(result.reason)
    backend.close()
    foreign = DockerBackend(image="registry.invalid/python:never")  # never pulled behind the user's back
    assert "docker pull registry.invalid/python:never" in str(foreign.unavailable_reason())
    assert foreign.run(py("print(1)")).status == "sandbox_error"
    foreign.close()


def test_containers_of_dead_owners_are_removed_when_a_pool_starts(docker_backend: DockerBackend) -> None:
    from rewardforge.sandbox.docker_pool import OWNER_LABEL

    pool = docker_backend._pool
    assert pool is not None
    host = os.uname().nodename
    stale = pool.client.containers.create(docker_backend.image, ["true"], network_mode="none",
                                          labels={LABEL: "1", OWNER_LABEL: f"{host}:999999999"})
    alive = pool.client.containers.create(docker_backend.image, ["true"], network_mode="none",
                                          labels={LABEL: "1", OWNER_LABEL: f"{host}:{os.getpid()}"})
    try:
        with DockerBackend(pool_size=1) as fresh:
            assert fresh.run(py("print(1)")).status == "ok"
        ids = {c.id for c in pool.client.containers.list(all=True, filters={"label": LABEL})}
        assert stale.id not in ids and alive.id in ids
    finally:
        for container in (stale, alive):
            with contextlib.suppress(Exception):
                container.remove(force=True)


@pytest.mark.usefixtures("docker_backend")  # fails (or skips) clearly without an engine
def test_a_container_lost_while_idle_is_replaced_transparently() -> None:
    with DockerBackend(pool_size=1) as backend:
        first = backend.run(py(CONTAINER_ID))
        pool = backend._pool
        assert pool is not None and first.status == "ok"
        idle = pool.stats()["idle"]
        assert idle == 1
        pool._idle[0].container.kill()  # as an engine restart or an operator would
        time.sleep(0.2)
        second = backend.run(py(CONTAINER_ID))
        assert second.status == "ok", second
        assert second.stdout != first.stdout
