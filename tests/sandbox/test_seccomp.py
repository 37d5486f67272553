"""The job filter's two renderings decide every call the way the policy says, on every supported architecture.

The BPF program is run here by a small classic-BPF interpreter over every syscall number, so the arm64
program is checked too, although this machine cannot load it. The hazard suite checks the filter that the
kernel really enforces, on both backends (tests/sandbox/test_hazards.py::test_seccomp_*).
"""

from __future__ import annotations

import errno
import json
import struct

import pytest

from rewardforge.sandbox import seccomp
from rewardforge.sandbox._syscalls import AARCH64, X86_64

ALLOW, KILL = 0x7FFF0000, 0x80000000
EPERM, ENOSYS = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
ARCHES = {"x86_64": (0xC000003E, X86_64), "aarch64": (0xC00000B7, AARCH64)}


def decide(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """What the filter returns for one call (a minimal interpreter of the opcodes the generator emits)."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0 & (2**64 - 1), 0, 0, 0, 0, 0)
    insns = [struct.unpack_from("=HBBI", program, offset) for offset in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == 0x06:  # ret k
            return k
        elif code == 0x05:  # ja k
            pc += 1 + k
        else:
            taken = {0x15: acc == k, 0x25: acc > k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)


@pytest.mark.parametrize("arch", ARCHES)
def test_every_syscall_number_gets_the_policys_answer(arch: str) -> None:
    audit, table = ARCHES[arch]
    program = seccomp.bpf_filter(arch)
    by_number = {number: name for name, number in table.items()}
    allowed = seccomp.ALLOWED | seccomp.PTRACE | seccomp.ARCH_ALLOWED[arch]
    for nr in range(600):
        name = by_number.get(nr)
        expected = ENOSYS if name == "clone3" else ALLOW if name in allowed or name in ("clone", "socket",
                                                                                         "personality") else EPERM
        assert decide(program, nr, audit) == expected, (arch, nr, name)
    # nr -1 is no call at all; on x86-64 it carries the x32 bit, so it kills like any x32 call.
    assert decide(program, -1, audit) == (KILL if arch == "x86_64" else EPERM)
    assert decide(program, table["read"], 0x40000003) == KILL  # i386 through int 0x80: another ABI
    if arch == "x86_64":
        assert decide(program, 0x40000000 | table["read"], audit) == KILL  # x32


@pytest.mark.parametrize("arch", ARCHES)
def test_calls_allowed_only_for_some_arguments(arch: str) -> None:
    audit, table = ARCHES[arch]
    program = seccomp.bpf_filter(arch)
    clone, socket_, personality = table["clone"], table["socket"], table["personality"]
    assert decide(program, clone, audit, 0x01200011) == ALLOW  # what fork() passes
    for flag in (0x10000000, 0x20000000, 0x00020000, 0x40000000, 0x02000000):  # NEWUSER, NEWPID, NEWNS, NEWNET, NEWCGROUP
        assert decide(program, clone, audit, 0x01200011 | flag) == EPERM, hex(flag)
    assert decide(program, socket_, audit, 2) == ALLOW and decide(program, socket_, audit, 1) == ALLOW
    assert decide(program, socket_, audit, seccomp.AF_VSOCK) == EPERM
    assert decide(program, socket_, audit, (1 << 32) | seccomp.AF_VSOCK) == EPERM  # the kernel reads an int
    for value in seccomp.PERSONALITIES:
        assert decide(program, personality, audit, value) == ALLOW
    assert decide(program, personality, audit, 0x0040000) == EPERM  # ADDR_NO_RANDOMIZE


def test_an_architecture_without_a_table_is_refused_loudly() -> None:
    with pytest.raises(seccomp.SeccompUnsupported, match="riscv64"):
        seccomp.bpf_filter("riscv64")


def test_the_docker_profile_states_the_same_policy() -> None:
    profile = json.loads(seccomp.docker_profile())
    assert (profile["defaultAction"], profile["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", errno.EPERM)
    rules = profile["syscalls"]
    unconditional = set(rules[0]["names"])
    assert unconditional == seccomp.ALLOWED | seccomp.PTRACE | seccomp.ARCH_ALLOWED["x86_64"]
    assert not unconditional & {"io_uring_setup", "io_uring_enter", "io_uring_register", "add_key", "keyctl",
                                "request_key", "bpf", "perf_event_open", "userfaultfd", "mount", "unshare",
                                "clone", "clone3", "socket", "personality"}
    conditional = {(rule["names"][0], rule.get("errnoRet"), json.dumps(rule.get("args"))) for rule in rules[1:]}
    assert ("clone3", errno.ENOSYS, "null") in conditional
    assert sum(name == "personality" for name, _, _ in conditional) == len(seccomp.PERSONALITIES)
    assert any(name == "socket" and '"SCMP_CMP_NE"' in args for name, _, args in conditional)
    assert any(name == "clone" and '"SCMP_CMP_MASKED_EQ"' in args for name, _, args in conditional)
