"""Nothing one job does reaches a later job of the same worker, on each isolating backend.

Every test here runs its jobs one after another on a backend with a single slot (one warm bubblewrap
worker; one warm container), so that the later job runs exactly where the earlier one did. In GRPO a
sample that lowers its siblings' rewards raises its own advantage: any channel from one job to the next
is a reward hack.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

import pytest
from rf_sandbox_support import BACKENDS, make_docker_backend, make_local_backend

from rewardforge.sandbox import ExecRequest, LocalBackend, SandboxBackend
from rewardforge.verifiers.code.cases import parse_tests
from rewardforge.verifiers.code.languages import PYTHON
from rewardforge.verifiers.code.verify import verify_many


@pytest.fixture(scope="module", params=BACKENDS)
def one_slot(request: pytest.FixtureRequest) -> Iterator[SandboxBackend]:
    if request.param == "docker":
        make_docker_backend().close()  # skips or fails with the fix when there is no engine
        from rewardforge.sandbox.docker import DockerBackend

        backend: SandboxBackend = DockerBackend(pool_size=1)
    else:
        make_local_backend().close()
        backend = LocalBackend(slots=1)
    yield backend
    backend.close()


def run(backend: SandboxBackend, code: str, *argv: str) -> dict:
    result = backend.run(ExecRequest(argv=["python3", "-c", textwrap.dedent(code), *argv]))
    assert result.status == "ok", result
    return json.loads(result.stdout)


SUM_TESTS = parse_tests({"inputs": ["1 2\n", "20 22\n", "5 5\n"], "outputs": ["3\n", "42\n", "10\n"]})
READS_DEV_STDIN = "a, b = map(int, open('/dev/stdin').read().split())\nprint(a + b)\n"


@pytest.mark.parametrize("sabotage", [
    # The reported case: a correct program that also swaps /dev/stdin for a link to /dev/null.
    "os.remove('/dev/stdin'); os.symlink('/dev/null', '/dev/stdin')",
    "os.chmod('/dev', 0)",
    "os.remove('/dev/null'); open('/dev/null', 'w').write('not a device')",
    "[open(f'/dev/fill{i}', 'wb').write(b'0' * (8 << 20)) for i in range(6)]",
], ids=["replace_dev_stdin", "chmod_dev", "replace_dev_null", "fill_dev"])
def test_a_program_that_sabotages_dev_cannot_fail_its_siblings(one_slot: SandboxBackend, sabotage: str) -> None:
    """A batch of 8 correct programs (default judge options); the first also tampers with /dev."""
    first = f"import os\ntry:\n    {sabotage}\nexcept OSError:\n    pass\n{READS_DEV_STDIN}"
    verdicts = verify_many([(first, SUM_TESTS)] + [(READS_DEV_STDIN, SUM_TESTS)] * 7, one_slot, PYTHON)
    assert [v.status for v in verdicts] == ["ok"] * 8, [v.reason for v in verdicts]
    assert [v.passed for v in verdicts] == [3] * 8, [[t.detail for t in v.tests] for v in verdicts]


LEAVE_BEHIND = """
import ctypes, errno, json, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
left = {}
for directory in ("/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~"), "/dev"):
    try:
        with open(os.path.join(directory, "rf-left-behind"), "w") as handle:
            handle.write("from an earlier job")
        left[directory] = True
    except OSError:
        left[directory] = False
KEY = 0x5EED
left["sysv_shm"] = libc.shmget(KEY, 4096, 0o1666) >= 0  # IPC_CREAT
left["sysv_msg"] = libc.msgget(KEY, 0o1666) >= 0
left["sysv_sem"] = libc.semget(KEY, 1, 0o1666) >= 0
librt = ctypes.CDLL("librt.so.1", use_errno=True)
librt.mq_open.restype = ctypes.c_int
left["posix_mq"] = librt.mq_open(b"/rf-left-behind", os.O_CREAT | os.O_RDWR, 0o666, None) >= 0
ADD_KEY, KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
key = libc.syscall(ADD_KEY, b"user", b"rf-left-behind", b"secret", 6, -4)  # into the user keyring
left["keyring"] = key >= 0
if os.fork() == 0:  # a daemon holding an abstract socket and sleeping
    server = socket.socket(socket.AF_UNIX)
    server.bind("\\0rf-left-behind")
    server.listen(1)
    os.execv("/bin/sleep", ["sleep", "60", "daemon-marker-7342"])
time.sleep(0.3)
print(json.dumps(left))
"""

FIND = """
import ctypes, errno, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
found = {}
for directory in ("/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~"), "/dev"):
    found[directory] = os.path.exists(os.path.join(directory, "rf-left-behind"))
KEY = 0x5EED
found["sysv_shm"] = libc.shmget(KEY, 0, 0) >= 0
found["sysv_msg"] = libc.msgget(KEY, 0) >= 0
found["sysv_sem"] = libc.semget(KEY, 0, 0) >= 0
librt = ctypes.CDLL("librt.so.1", use_errno=True)
found["posix_mq"] = librt.mq_open(b"/rf-left-behind", os.O_RDONLY, 0, None) >= 0
KEYCTL = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
found["keyring"] = libc.syscall(KEYCTL, 10, -4, b"user", b"rf-left-behind", 0) >= 0  # KEYCTL_SEARCH in @u
try:
    socket.socket(socket.AF_UNIX).connect("\\0rf-left-behind")
    found["abstract_socket"] = True
except OSError:
    found["abstract_socket"] = False
marker = b"daemon-marker-" + b"7342"
found["daemon"] = False
for pid in os.listdir("/proc"):
    try:
        found["daemon"] |= marker in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        pass
found["open_fds"] = []
for fd in range(3, 256):
    try:
        os.fstat(fd)
        found["open_fds"].append(fd)
    except OSError:
        pass
print(json.dumps(found))
"""


def test_nothing_a_job_leaves_reaches_the_next_job(one_slot: SandboxBackend) -> None:
    left = run(one_slot, LEAVE_BEHIND)
    assert left["/tmp"] and left["/dev/shm"] and left["sysv_shm"] and left["posix_mq"], left  # it did leave them
    assert not left["/dev"] and not left["keyring"], left  # read-only /dev; keyrings refused by seccomp
    found = run(one_slot, FIND)
    assert found.pop("open_fds") == []
    assert not any(found.values()), found
