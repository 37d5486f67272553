"""Docker sandbox backend: jobs run in a warm pool of locked-down containers (docker SDK).

Every container has no network, a read-only root, sized tmpfs mounts (/work, /tmp, /dev/shm), memory equal
to memory+swap, a pids limit, a CPU quota, no capabilities, no-new-privileges, the seccomp policy the local
backend uses too (`seccomp.py`: Docker's default profile with io_uring refused), a non-root user, an init
(the job agent, see below) and capped logs. Files and stdin travel over the container's attach stream,
never through a host mount. The agent (`docker_agent.py`) is the container's pid 1: it runs the jobs one
at a time, out of their reach, and wipes every trace of a job before the next, so a container serves
`jobs_per_container` jobs instead of paying container creation per sample. A container whose job timed
out, flooded its output or ran out of memory is replaced.

The default image is built locally, without a registry, by `python -m rewardforge.sandbox.image build`;
any image with `python3` works (`DockerBackend(image="python:3.11-slim")` or `RF_DOCKER_IMAGE`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import weakref
from typing import Any

from rewardforge.sandbox.base import ExecRequest, ExecResult, ExecStatus, Limits, SandboxBackend, SandboxError
from rewardforge.sandbox.docker_pool import (
    AgentGone,
    AgentSilent,
    ContainerPool,
    ContainerSpec,
    WarmContainer,
    missing_image_hint,
)
from rewardforge.sandbox.jobs import DEFAULT_ENV, PYTHON_NAMES, WORKDIR, as_bytes, classify, job_path
from rewardforge.sandbox.process import ProcessOutcome

DEFAULT_IMAGE = "rewardforge-sandbox:py3"
IMAGE_ENV = "RF_DOCKER_IMAGE"
JOB_UID = 10001  # runs the agent (pid 1) and the jobs; never root
# How long past the job's wall limit the parent waits for the agent (setup, cleanup) before killing the
# container itself.
_GRACE_S = 5.0
_RETRY = object()  # the sandbox failed before the job ran: run it again on a fresh container


def _local_socket(base_url: str | None) -> str | None:
    url = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return url[len("unix://"):] if url.startswith("unix://") else None


class DockerBackend(SandboxBackend):
    """Runs jobs in warm Docker containers. Safe to call from many threads; at most `pool_size` run at once.

    Nothing touches the engine until the first job (or `available()`), so constructing one is free.
    `jobs_per_container=1` replaces every container after one job. The container's memory cgroup bounds
    the job and all its children; `address_space_limit` also gives the job RLIMIT_AS = memory_mb, as the
    local backend does, so a memory bomb fails at once with MemoryError instead of after the kernel's
    reclaim attempts (turn it off for runtimes that reserve large address spaces, like the JVM or ASan).
    """

    name = "docker"

    def __init__(
        self,
        image: str | None = None,
        *,
        pool_size: int | None = None,
        jobs_per_container: int = 200,
        cpus: float = 1.0,
        python: str = "python3",
        base_url: str | None = None,
        acquire_timeout_s: float = 120.0,
        address_space_limit: bool = True,
    ) -> None:
        if pool_size is not None and pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        if jobs_per_container < 1:
            raise ValueError(f"jobs_per_container must be at least 1, got {jobs_per_container}")
        if cpus <= 0:
            raise ValueError(f"cpus must be positive, got {cpus}")
        self.image = image or os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE
        self.pool_size = pool_size or max(2, os.cpu_count() or 1)
        self.jobs_per_container = jobs_per_container
        self.cpus = cpus
        self.python = python
        self.base_url = base_url
        self.acquire_timeout_s = acquire_timeout_s
        self.address_space_limit = address_space_limit
        self._pool: ContainerPool | None = None
        self._finalizer: weakref.finalize | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        self._closed = False

    # -- engine ----------------------------------------------------------------------------------------
    def _new_client(self, timeout: float) -> Any:
        import docker  # the optional [docker] extra; imported late because it is slow to import

        if self.base_url:
            return docker.DockerClient(base_url=self.base_url, timeout=timeout)
        return docker.from_env(timeout=timeout)

    def unavailable_reason(self) -> str | None:
        """Why jobs cannot run here now (no engine, image missing), or None. Fast when there is no engine."""
        path = _local_socket(self.base_url)
        if path is not None and not os.path.exists(path):
            return f"no Docker engine: {path} does not exist (start one with scripts/setup_docker.sh)"
        try:
            from docker.errors import ImageNotFound

            client = self._new_client(timeout=5)
        except Exception as exc:  # the SDK missing, or any way the engine can fail to answer
            return f"no Docker engine answered: {exc}"
        try:
            client.ping()
            client.images.get(self.image)
        except ImageNotFound:
            return missing_image_hint(self.image)
        except Exception as exc:
            return f"the Docker engine failed: {exc}"
        finally:
            client.close()
        return None

    def available(self) -> bool:
        return self.unavailable_reason() is None

    def _get_pool(self) -> ContainerPool:
        with self._lock:
            if self._closed:
                raise SandboxError("the Docker backend is closed")
            if self._pool is None:
                self._client = self._new_client(timeout=60)
                self._pool = ContainerPool(
                    self._client, image=self.image, size=self.pool_size,
                    jobs_per_container=self.jobs_per_container, cpus=self.cpus, python=self.python,
                    user=f"{JOB_UID}:{JOB_UID}",
                    acquire_timeout_s=self.acquire_timeout_s,
                )
                # Containers left at interpreter exit would outlive us: remove them then at the latest.
                self._finalizer = weakref.finalize(self, self._pool.close)
            return self._pool

    def warm(self, limits: Limits | None = None, timeout_s: float = 120.0) -> None:
        """Starts the whole pool for `limits` now and waits until it is ready (for benchmarks, services)."""
        spec = _spec(limits or Limits())
        pool = self._get_pool()
        failures = pool.failures
        with pool.lease(spec):  # one container in the foreground: an engine or image problem raises now
            pass
        deadline = time.monotonic() + timeout_s
        while pool.stats(spec)["idle"] < pool.size:
            pool.warm(spec)  # again each round: containers of other specs may still have been starting
            if pool.failures > failures:
                raise SandboxError(f"the sandbox pool could not be started: {pool.last_error}")
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox pool was not ready within {timeout_s:g}s")
            time.sleep(0.05)

    # -- jobs ------------------------------------------------------------------------------------------
    def run(self, request: ExecRequest) -> ExecResult:
        header, blobs = self._job(request)
        spec = _spec(request.limits)
        for _ in range(2):
            try:
                pool = self._get_pool()
                with pool.lease(spec) as warm:
                    result = self._execute(pool, warm, header, blobs, request.limits)
            except Exception as exc:  # engine down, image missing, API errors: never a verdict on the job
                return self._error(f"the Docker sandbox failed: {exc}")
            if isinstance(result, ExecResult):
                return result
        return self._error("the sandbox container failed twice before the job could start")

    @property
    def concurrency(self) -> int:
        return self.pool_size

    def _job(self, request: ExecRequest) -> tuple[dict[str, Any], list[bytes]]:
        """The agent's request header and blobs. Bad input (empty argv, escaping paths) raises ValueError."""
        if not request.argv:
            raise ValueError("ExecRequest.argv is empty")
        files, blobs = [], []
        for name, content in sorted(request.files.items()):
            rel = str(job_path(name))
            data = as_bytes(content)
            files.append([rel, len(data), 0o755 if data.startswith(b"#!") else 0o644])
            blobs.append(data)
        stdin = as_bytes(request.stdin)
        blobs.append(stdin)
        argv = [self.python if request.argv[0] in PYTHON_NAMES else request.argv[0], *request.argv[1:]]
        limits = request.limits
        header = {
            "argv": argv,
            "env": {**DEFAULT_ENV, **request.env},
            "cwd": WORKDIR,
            "files": files,
            "stdin": len(stdin),
            "limits": {"wall_s": limits.wall_s, "cpu_s": limits.cpu_s, "file_size_mb": limits.file_size_mb,
                       "output_bytes": limits.output_bytes,
                       "address_space_mb": limits.memory_mb if self.address_space_limit else None},
        }
        return header, blobs

    def _execute(self, pool: ContainerPool, warm: WarmContainer, header: dict[str, Any], blobs: list[bytes],
                 limits: Limits) -> ExecResult | object:
        started = time.monotonic()
        deadline = started + limits.wall_s + _GRACE_S
        try:
            warm.send_job(header, blobs, deadline)
        except (AgentGone, AgentSilent):
            warm.retired = True
            return _RETRY
        try:
            reply, output = warm.channel.receive(deadline)
        except AgentSilent:
            # The agent enforces the wall limit itself; silence past it means it was stopped (SIGSTOP from
            # the job) or starved. Either way the job ran out of time: kill the whole container.
            pool.kill(warm)
            return ExecResult(status="timeout", signal=int(signal.SIGKILL), wall_s=time.monotonic() - started,
                              backend=self.name,
                              reason=f"wall-clock limit of {limits.wall_s:g}s reached (container killed)")
        except AgentGone:
            warm.retired = True
            return self._agent_died(pool, warm, limits, time.monotonic() - started)
        if reply.get("error"):
            warm.retired = True
            return _RETRY
        if not reply.get("clean", False):
            warm.retired = True
        return self._result(warm, reply, output, limits)

    def _result(self, warm: WarmContainer, reply: dict[str, Any], output: dict[str, bytes],
                limits: Limits) -> ExecResult:
        exit_code, sig = reply.get("exit_code"), reply.get("signal")
        outcome = ProcessOutcome(
            returncode=-sig if sig is not None else exit_code,
            stdout=output["stdout"], stderr=output["stderr"],
            truncated=bool(reply.get("truncated")), timed_out=bool(reply.get("timed_out")),
            output_exceeded=bool(reply.get("output_exceeded")), wall_s=float(reply.get("wall_s", 0.0)),
        )
        status: ExecStatus
        reason: str | None
        if reply.get("oom") and not (outcome.timed_out or outcome.output_exceeded):
            status, reason = "memory", f"memory limit of {limits.memory_mb} MB reached (OOM kill)"
        else:
            status, reason = classify(outcome, exit_code, sig, limits)
        if status in ("timeout", "memory", "output_limit"):
            warm.retired = True
        return ExecResult(status=status, exit_code=exit_code, signal=sig, stdout=outcome.stdout,
                          stderr=outcome.stderr, truncated=outcome.truncated, wall_s=outcome.wall_s,
                          backend=self.name, reason=reason)

    def _agent_died(self, pool: ContainerPool, warm: WarmContainer, limits: Limits,
                    wall_s: float) -> ExecResult:
        """The agent's stream ended during a job. Jobs cannot signal the agent (pid 1), so the memory limit is
        the one way a job can end it: the container is reported as OOM-killed. Anything else is the sandbox's
        failure (engine restarted, container removed from outside)."""
        state = pool.container_state(warm)
        if state is not None and state.get("OOMKilled"):
            return ExecResult(status="memory", signal=int(signal.SIGKILL), wall_s=wall_s, backend=self.name,
                              reason=f"memory limit of {limits.memory_mb} MB reached (OOM kill)")
        return self._error("the sandbox container stopped during the job"
                           + ("" if state is None else f" (state: {state.get('Status')})"))

    def _error(self, reason: str) -> ExecResult:
        return ExecResult(status="sandbox_error", backend=self.name, reason=reason)

    def describe(self) -> dict[str, object]:
        pool = self._pool
        return {"backend": self.name, "image": self.image, "pool_size": self.pool_size,
                "jobs_per_container": self.jobs_per_container, "cpus": self.cpus,
                "pool": pool.stats() if pool is not None else None}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            client, self._client = self._client, None
            finalizer, self._finalizer = self._finalizer, None
        if pool is not None and finalizer is not None:
            finalizer()  # pool.close(), once; the exit hook is spent with it
        if client is not None:
            client.close()


def _spec(limits: Limits) -> ContainerSpec:
    return ContainerSpec(memory_mb=limits.memory_mb, pids=limits.pids, tmp_mb=limits.tmp_mb)
