"""Warm, locked-down containers for the Docker backend, each with a job agent attached.

A container is created once and serves up to `jobs_per_container` jobs through its agent
(`docker_agent.py`), which wipes every trace of a job before the next. It is replaced (in the background)
when it reaches that count, when a job timed out, flooded its output or ran out of memory, or when its
agent misbehaved. Containers are labelled with their owner process, so ones left behind by a process that
died are removed the next time a pool starts on the same host.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Ulimit

from rewardforge.sandbox.base import SandboxError
from rewardforge.sandbox.jobs import WORKDIR
from rewardforge.sandbox.seccomp import docker_profile

logger = logging.getLogger(__name__)

LABEL = "org.rewardforge.sandbox"
OWNER_LABEL = "org.rewardforge.owner"
AGENT_SOURCE = (Path(__file__).with_name("docker_agent.py")).read_text(encoding="utf-8")
_FRAME = struct.Struct(">BxxxI")  # docker's multiplexed stream header: stream id, payload length
_LENGTH = struct.Struct(">I")
_STDOUT, _STDERR = 1, 2
_DIAGNOSTICS_CAP = 1 << 14
# Processes in a container that are not the job's: the agent.
_OVERHEAD_PIDS = 1
# Memory the agent (a small Python process) needs on top of the job's own limit.
_OVERHEAD_MB = 48
_START_TIMEOUT_S = 60.0
NO_PTYS = "ro,nosuid,nodev,noexec,size=4k,mode=755"


class AgentGone(Exception):
    """The agent's stream ended: the agent died (or was killed) or the container went away."""


class AgentSilent(Exception):
    """The agent did not answer before the deadline."""


@dataclass(frozen=True)
class ContainerSpec:
    """The per-container part of `Limits`: jobs whose specs match can share a container."""

    memory_mb: int
    pids: int
    tmp_mb: int


class AgentChannel:
    """The hijacked attach stream of one agent (the container's pid 1), with docker's 8-byte frame headers
    demultiplexed: stdout carries the protocol, stderr the agent's own diagnostics."""

    def __init__(self, sock: Any) -> None:
        self._handle = sock  # keeps docker-py's response object (and so the connection) alive
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._raw = bytearray()
        self._stdout = bytearray()
        self.diagnostics = bytearray()

    def readable(self) -> bool:
        """Whether anything (EOF included) is waiting. Between jobs the agent is silent, so a readable idle
        channel means the container went away (engine restart, removal from outside)."""
        return bool(select.select([self._sock], [], [], 0)[0])

    def send(self, data: bytes, deadline: float) -> None:
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            self._sock.sendall(data)
        except TimeoutError as exc:
            raise AgentSilent("the sandbox agent stopped reading its input") from exc
        except OSError as exc:
            raise AgentGone(f"cannot write to the sandbox agent: {exc}") from exc

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self._sock], [], [], left)[0]:
            raise AgentSilent("the sandbox agent did not answer in time")
        try:
            chunk = self._sock.recv(1 << 20)
        except OSError as exc:
            raise AgentGone(f"the sandbox agent's stream failed: {exc}") from exc
        if not chunk:
            raise AgentGone("the sandbox agent's stream ended")
        raw = self._raw
        raw += chunk
        offset = 0
        while len(raw) - offset >= _FRAME.size:
            stream, size = _FRAME.unpack_from(raw, offset)
            end = offset + _FRAME.size + size
            if len(raw) < end:
                break
            payload = raw[offset + _FRAME.size:end]
            if stream == _STDOUT:
                self._stdout += payload
            elif len(self.diagnostics) < _DIAGNOSTICS_CAP:
                self.diagnostics += payload
            offset = end
        del raw[:offset]

    def _take(self, size: int, deadline: float) -> bytes:
        while len(self._stdout) < size:
            self._fill(deadline)
        data = bytes(self._stdout[:size])
        del self._stdout[:size]
        return data

    def receive(self, deadline: float) -> tuple[dict[str, Any], dict[str, bytes]]:
        """One agent message: its JSON header and the blobs it announces (stdout, stderr)."""
        (size,) = _LENGTH.unpack(self._take(_LENGTH.size, deadline))
        header = json.loads(self._take(size, deadline))
        blobs = {name: self._take(int(header.get(name, 0)), deadline) for name in ("stdout", "stderr")}
        return header, blobs

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(Exception):
            self._handle.close()


@dataclass
class WarmContainer:
    """A running sandbox container and the agent that runs its jobs."""

    container: Any
    channel: AgentChannel
    spec: ContainerSpec
    jobs: int = 0
    retired: bool = False  # set when the container must not serve another job

    @property
    def short_id(self) -> str:
        return str(self.container.id)[:12]

    def send_job(self, header: dict[str, Any], blobs: list[bytes], deadline: float) -> None:
        """Hands one job to the agent; its reply comes from `channel.receive`. AgentGone means the job
        never reached the agent."""
        if self.channel.readable():
            raise AgentGone("the idle sandbox container went away")
        data = json.dumps(header).encode()
        self.jobs += 1
        self.channel.send(b"".join((_LENGTH.pack(len(data)), data, *blobs)), deadline)


def missing_image_hint(image: str) -> str:
    """What to do about a missing image: build ours locally, or pull someone else's (never done for you)."""
    if image.startswith("rewardforge-sandbox:"):
        how = (f"build it with `python -m rewardforge.sandbox.image build --tag {image}` "
               "(or scripts/setup_docker.sh)")
    else:
        how = f"pull it (`docker pull {image}`) or use the locally built rewardforge-sandbox:py3"
    return f"the sandbox image {image!r} is not present: {how}"


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ContainerPool:
    """Thread-safe pool of at most `size` warm containers, keyed by `ContainerSpec`."""

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        image: str,
        size: int,
        jobs_per_container: int,
        cpus: float,
        python: str,
        user: str,
        acquire_timeout_s: float,
    ) -> None:
        self.client = client
        self.image = image
        self.size = size
        self.jobs_per_container = jobs_per_container
        self.cpus = cpus
        self.python = python
        self.user = user
        self.acquire_timeout_s = acquire_timeout_s
        self._idle: list[WarmContainer] = []
        self._count = 0  # idle + leased + being created
        self._closed = False
        self._cond = threading.Condition()
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rf-docker-pool")
        self._owner = _owner()
        self.last_error: str | None = None
        self.failures = 0  # background container starts that failed
        self._remove_orphans()

    # -- leasing ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lease(self, spec: ContainerSpec) -> Iterator[WarmContainer]:
        """A container for one job; set `retired` on it to have it replaced instead of reused."""
        warm = self._acquire(spec)
        try:
            yield warm
        except BaseException:
            warm.retired = True
            raise
        finally:
            self.release(warm)

    def _acquire(self, spec: ContainerSpec) -> WarmContainer:
        deadline = time.monotonic() + self.acquire_timeout_s
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("the Docker sandbox pool is closed")
                for index, warm in enumerate(self._idle):
                    if warm.spec == spec:
                        return self._idle.pop(index)
                if self._count < self.size:
                    self._count += 1
                    break
                if self._idle:  # a container of another spec is free: make room for ours
                    self._discard(self._idle.pop(0), replace=False)
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SandboxError(f"no sandbox container became free within {self.acquire_timeout_s:g}s")
                self._cond.wait(left)
        try:
            warm = self._create(spec)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
            raise
        # A job needed a cold start: warm the rest of the pool in the background so the next ones do not.
        self.warm(spec, evict=False)
        return warm

    def release(self, warm: WarmContainer) -> None:
        with self._cond:
            if not warm.retired and not self._closed and warm.jobs < self.jobs_per_container:
                self._idle.append(warm)
                self._cond.notify_all()
                return
            closed = self._closed
            if closed:
                self._count -= 1
                self._cond.notify_all()
            else:
                self._discard(warm, replace=True)
        if closed:
            self._destroy(warm)

    def _discard(self, warm: WarmContainer, replace: bool) -> None:
        """Removes a container in the background, and creates its replacement there. Holds the lock."""
        if not replace:
            self._count -= 1
            self._cond.notify_all()
        self._background.submit(self._replace, warm, replace)

    def _replace(self, warm: WarmContainer, replace: bool) -> None:
        self._destroy(warm)
        if replace:
            self._create_idle(warm.spec)

    def warm(self, spec: ContainerSpec, evict: bool = True) -> None:
        """Starts containers for `spec` in the background until the pool is full; with `evict`, idle
        containers of other specs are removed to make room."""
        with self._cond:
            if self._closed:
                return
            for other in [w for w in self._idle if w.spec != spec] if evict else []:
                self._idle.remove(other)
                self._discard(other, replace=False)
            missing = max(self.size - self._count, 0)
            self._count += missing
            for _ in range(missing):
                self._background.submit(self._create_idle, spec)

    def _create_idle(self, spec: ContainerSpec) -> None:
        """Creates a container for a slot already counted in `_count`; gives the slot back on failure."""
        try:
            warm = self._create(spec)
        except Exception as exc:
            logger.warning("could not start a sandbox container: %s", exc)
            with self._cond:
                self.last_error = str(exc)
                self.failures += 1
                self._count -= 1
                self._cond.notify_all()
            return
        with self._cond:
            if self._closed:
                self._count -= 1
                closing = True
            else:
                self._idle.append(warm)
                closing = False
            self._cond.notify_all()
        if closing:
            self._destroy(warm)

    # -- containers ------------------------------------------------------------------------------------
    def _create(self, spec: ContainerSpec) -> WarmContainer:
        """Creates a container with every restriction, attaches to its agent, starts it and waits for it."""
        # nr_inodes: tmpfs counts only data against `size`, so without it empty files would be unbounded.
        tmpfs = f"rw,nosuid,nodev,size={spec.tmp_mb}m,nr_inodes={spec.tmp_mb * 256},mode=1777"
        memory = f"{spec.memory_mb + _OVERHEAD_MB}m"
        try:
            # create + start, not run: run() would try to pull a missing image from a registry.
            container = self.client.containers.create(
                self.image,
                [self.python, "-I", "-S", "-c", AGENT_SOURCE],
                user=self.user,
                # The agent is pid 1 and does an init's work (reaps orphans, ignores signals). docker-init in
                # its place would make the agent an ordinary process that a job's kill(-1) or SIGSTOP
                # reaches; pid 1 gets no signal from inside its namespace that it has no handler for.
                init=False,
                stdin_open=True,
                network_mode="none",
                read_only=True,
                # An empty /dev/pts hides the container's pseudo-terminals: allocating them is capped only
                # host-wide (kernel.pty.max), so one job could take every one other containers may get.
                tmpfs={"/tmp": tmpfs + ",noexec", WORKDIR: tmpfs + ",exec", "/dev/pts": NO_PTYS},
                shm_size=f"{spec.tmp_mb}m",
                mem_limit=memory,
                memswap_limit=memory,
                pids_limit=spec.pids + _OVERHEAD_PIDS,
                nano_cpus=int(self.cpus * 1e9),
                cap_drop=["ALL"],
                # Our seccomp policy, not the engine's default (Docker 20.10's still allows io_uring).
                security_opt=["no-new-privileges", f"seccomp={docker_profile()}"],
                ulimits=[Ulimit(name="core", soft=0, hard=0)],
                log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
                hostname="sandbox",
                working_dir="/",
                environment={},
                labels={LABEL: "1", OWNER_LABEL: self._owner},
            )
        except ImageNotFound as exc:
            raise SandboxError(missing_image_hint(self.image)) from exc
        try:
            channel = AgentChannel(self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}))
            container.start()
            deadline = time.monotonic() + _START_TIMEOUT_S
            channel.send(_LENGTH.pack(0), deadline)
            try:
                hello, _ = channel.receive(deadline)
            except (AgentGone, AgentSilent) as exc:
                detail = channel.diagnostics.decode("utf-8", "replace").strip()[-500:]
                raise SandboxError(f"the sandbox agent did not start ({exc}): {detail}") from exc
            if not hello.get("ready"):
                raise SandboxError(f"the sandbox agent refused to start: {hello.get('error')}")
        except BaseException:
            with contextlib.suppress(DockerException):
                container.remove(force=True)
            raise
        return WarmContainer(container=container, channel=channel, spec=spec)

    def _destroy(self, warm: WarmContainer) -> None:
        warm.channel.close()
        try:
            warm.container.remove(force=True)
        except NotFound:
            pass
        except DockerException as exc:
            logger.warning("could not remove sandbox container %s: %s", warm.short_id, exc)

    def kill(self, warm: WarmContainer) -> None:
        """Stops a container now (its job is over by force); removal happens when it is released."""
        warm.retired = True
        warm.channel.close()
        with contextlib.suppress(DockerException):
            warm.container.kill()

    def container_state(self, warm: WarmContainer) -> dict[str, Any] | None:
        """The container's State from the engine, or None when the engine does not know it (or is gone)."""
        try:
            warm.container.reload()
        except DockerException:
            return None
        state = warm.container.attrs.get("State")
        return state if isinstance(state, dict) else None

    def _remove_orphans(self) -> None:
        """Removes containers of earlier pools on this host whose owning process is gone."""
        host = socket.gethostname()
        try:
            stale = self.client.containers.list(all=True, filters={"label": LABEL})
        except DockerException:
            return
        for container in stale:
            owner = str(container.labels.get(OWNER_LABEL, ""))
            owner_host, _, pid = owner.rpartition(":")
            if owner_host == host and pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(DockerException):
                    container.remove(force=True)

    def stats(self, spec: ContainerSpec | None = None) -> dict[str, int]:
        """Idle containers (of `spec`, if given), all containers counted (idle, leased, starting), size."""
        with self._cond:
            idle = sum(1 for w in self._idle if spec is None or w.spec == spec)
            return {"idle": idle, "total": self._count, "size": self.size}

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        self._background.shutdown(wait=True)
        # Destroy here, not on the background executor: at interpreter exit it takes no new work.
        for warm in idle:
            self._destroy(warm)
