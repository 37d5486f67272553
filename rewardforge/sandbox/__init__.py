"""Running untrusted code: the contract types, the backends, and `get_backend` to pick one.

- `local` (`local.py`): bubblewrap namespaces + per-slot uid + rlimits + seccomp + per-slot pids, memory
  and CPU cgroups (the embedded default).
- `docker` (`docker.py`): a warm pool of locked-down containers (needs a Docker engine and the `docker` extra).
- `insecure` (`insecure.py`): rlimits only, NO isolation; only ever used when asked for by name.

Both isolating backends run every job under the same seccomp policy (`seccomp.py`, Docker's default
profile with io_uring refused) and the same job conventions (`jobs.py`).
"""

from __future__ import annotations

from typing import Any

from rewardforge.sandbox.base import ExecRequest, ExecResult, ExecStatus, Limits, SandboxBackend, SandboxError
from rewardforge.sandbox.insecure import InsecureBackend, InsecureSandboxWarning
from rewardforge.sandbox.local import LocalBackend, SandboxWeakeningWarning

BACKEND_NAMES = ("auto", "local", "docker", "insecure")

__all__ = [
    "BACKEND_NAMES",
    "ExecRequest",
    "ExecResult",
    "ExecStatus",
    "InsecureBackend",
    "InsecureSandboxWarning",
    "Limits",
    "LocalBackend",
    "SandboxBackend",
    "SandboxError",
    "SandboxWeakeningWarning",
    "get_backend",
]


def _docker_backend(**options: Any) -> SandboxBackend:
    # Imported lazily: the docker SDK is an optional extra, and importing it costs time.
    from rewardforge.sandbox.docker import DockerBackend

    return DockerBackend(**options)


def get_backend(name: str = "auto", **options: Any) -> SandboxBackend:
    """A sandbox backend by name; `options` go to its constructor.

    "auto" picks Docker when an engine answers, else the local bubblewrap backend. It never falls back to
    "insecure": when neither isolating backend works it raises SandboxError saying what is missing.
    Raises ValueError for an unknown name.
    """
    if name == "local":
        return LocalBackend(**options)
    if name == "docker":
        return _docker_backend(**options)
    if name == "insecure":
        return InsecureBackend(**options)
    if name != "auto":
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    reasons = []
    try:
        docker = _docker_backend(**options)
    except ImportError as exc:
        reasons.append(f"docker: not importable ({exc})")
    else:
        if docker.available():
            return docker
        docker.close()
        reasons.append("docker: no engine answered")
    local = LocalBackend(**options)
    problem = local.unavailable_reason()
    if problem is None:
        return local
    reasons.append(f"local: {problem}")
    raise SandboxError(
        "no isolating sandbox backend works on this machine (" + "; ".join(reasons) + "). Run "
        "scripts/setup_sandbox.sh (bubblewrap) or scripts/setup_docker.sh, or pass 'insecure' explicitly "
        "if every program you run is trusted."
    )
