"""The rlimits-only fallback for machines without bubblewrap. It contains nothing (the job sees the whole
file system and network) and is only ever used when asked for by name."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from rewardforge.sandbox.base import ExecRequest, ExecResult, SandboxBackend, SandboxError
from rewardforge.sandbox.jobs import (
    DEFAULT_ENV,
    PYTHON_NAMES,
    as_bytes,
    classify,
    default_python,
    job_path,
    prlimit_args,
    result_from,
)
from rewardforge.sandbox.process import run_process
from rewardforge.sandbox.slots import DEFAULT_BASE_UID, SlotPool

logger = logging.getLogger(__name__)


class InsecureSandboxWarning(UserWarning):
    """The rlimits-only backend is in use: jobs can read and write this machine."""


class InsecureBackend(SandboxBackend):
    """NOT A SANDBOX. rlimits, a new session, a clean environment and a throwaway working directory only.

    The job sees the whole file system and network. Called by root, it still runs as a per-slot uid (root
    would ignore RLIMIT_NPROC, and its `kill(-1, 9)` would take the machine down); otherwise as the caller.
    For machines without bubblewrap where every program run is trusted. Never chosen automatically.
    """

    name = "insecure"

    def __init__(self, *, python: str | None = None, slots: int | None = None,
                 base_uid: int = DEFAULT_BASE_UID, cpus: float = 1.0) -> None:
        self.python = python or default_python()
        self.slots = SlotPool(slots or max(4, 2 * (os.cpu_count() or 1)), base_uid=base_uid)
        self.cpus = cpus
        self._tools = {tool: shutil.which(tool) or "" for tool in ("sh", "prlimit", "setpriv")}
        message = ("rewardforge sandbox backend 'insecure' in use: jobs run WITHOUT isolation (rlimits only) "
                   "and can read and write this machine")
        warnings.warn(message, InsecureSandboxWarning, stacklevel=2)
        logger.warning(message)

    @property
    def concurrency(self) -> int:
        return self.slots.size

    def _missing_tools(self) -> list[str]:
        needed = ["sh", "prlimit"] + (["setpriv"] if self.slots.switch_uid else [])
        return [f"{tool} (util-linux)" for tool in needed if not self._tools[tool]]

    def available(self) -> bool:
        return not self._missing_tools()

    def run(self, request: ExecRequest) -> ExecResult:
        missing = self._missing_tools()
        if missing:
            return ExecResult(status="sandbox_error", backend=self.name, reason="missing: " + ", ".join(missing))
        limits = request.limits
        try:
            with self.slots.claim() as slot, tempfile.TemporaryDirectory(prefix="rf-insecure-") as workdir:
                for name, content in request.files.items():
                    target = Path(workdir, job_path(name))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(as_bytes(content))
                slot.prepare(limits, overhead_pids=0, overhead_mb=0, cpus=self.cpus)
                oom_before = slot.cgroup.oom_kills() if slot.cgroup is not None else 0
                nproc = limits.pids if slot.uid is not None else None
                argv = [*slot.join_args(self._tools["sh"]), self._tools["prlimit"], *prlimit_args(limits, nproc), "--"]
                if slot.uid is not None:
                    for path in [Path(workdir), *Path(workdir).rglob("*")]:
                        os.chown(path, slot.uid, slot.uid)
                    argv += [self._tools["setpriv"], f"--reuid={slot.uid}", f"--regid={slot.uid}",
                             "--clear-groups", "--inh-caps=-all", "--no-new-privs", "--"]
                head = self.python if request.argv[0] in PYTHON_NAMES else request.argv[0]
                env = {**DEFAULT_ENV, "HOME": workdir, "TMPDIR": workdir, **request.env}
                outcome = run_process(
                    [*argv, head, *request.argv[1:]], env=env, stdin=as_bytes(request.stdin),
                    wall_s=limits.wall_s, output_bytes=limits.output_bytes, cwd=workdir,
                    extra_kill=slot.cgroup.kill_all if slot.cgroup is not None else None,
                )
                oom_killed = slot.cgroup is not None and slot.cgroup.oom_kills() > oom_before
        except (OSError, SandboxError) as exc:
            return ExecResult(status="sandbox_error", backend=self.name, reason=f"could not start the job: {exc}")
        code = outcome.returncode
        exit_code, sig = (None, -code) if code is not None and code < 0 else (code, None)
        kind, reason = classify(outcome, exit_code, sig, limits, oom_killed=oom_killed)
        return result_from(outcome, self.name, kind, reason, exit_code, sig)
