"""The system-call filter every sandboxed job runs under, on both backends.

The policy is Docker's default seccomp profile as it applies to a process without capabilities (every job
has none), with io_uring refused as well: Docker 25 dropped io_uring from its profile, but 20.10, still
common, allows it, and io_uring reaches file and socket operations no other rule sees.

- allowed: the profile's list of ordinary calls (files, memory, processes, signals, sockets, time, SysV
  and POSIX IPC), ptrace and process_vm_* (as Docker on kernels >= 4.8), `clone` without namespace flags,
  `socket` for any family but AF_VSOCK, `personality` with the profile's five values, and `arch_prctl`
  and `modify_ldt` on x86-64;
- `clone3` fails with ENOSYS, so that libc falls back to `clone`, whose flags a filter can read;
- everything else fails with EPERM: io_uring, add_key/keyctl/request_key (a keyring would carry data from
  one job to the next), bpf, perf_event_open, userfaultfd, mount, unshare, setns, kexec, modules, ...;
- a call through another ABI (x32, or i386 through `int 0x80`) kills the process: its numbers differ.

One policy, two renderings, so the backends cannot drift apart:
- `bpf_filter()`: a classic BPF program for the local backend. bwrap loads it with `--seccomp FD` (cold
  runs); the warm worker installs it in each job after the job's namespaces and mounts are made and before
  any of its code runs (the worker itself needs mount and clone flags that the filter refuses).
- `docker_profile()`: the same rules as a Docker seccomp profile, given to every container.
"""

from __future__ import annotations

import errno
import json
import platform
import struct
import sys
from functools import cache
from typing import Any

from rewardforge.sandbox import _syscalls

ALLOWED = frozenset("""
    accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
    clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
    clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
    epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
    execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
    fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
    fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
    futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
    getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
    getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
    getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
    inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64
    ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
    landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek
    lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir
    mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
    mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
    msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat
    openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
    ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64
    pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
    remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
    rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
    rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
    sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
    sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget
    semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
    setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32
    setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt
    set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack
    signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx
    symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
    timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
    timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname
    unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
""".split())
# Docker allows these on kernels >= 4.8, where seccomp runs after ptrace and so cannot be bypassed by it.
PTRACE = frozenset({"ptrace", "process_vm_readv", "process_vm_writev"})
ARCH_ALLOWED = {"x86_64": frozenset({"arch_prctl", "modify_ldt"}), "aarch64": frozenset()}
AF_VSOCK = 40
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)  # PER_LINUX, UNAME26, LINUX32, both, query
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: Docker's mask for `clone`.
CLONE_NAMESPACE_FLAGS = 0x7E020000

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_TABLES = {"x86_64": _syscalls.X86_64, "aarch64": _syscalls.AARCH64}
_X32_SYSCALL_BIT = 0x40000000

# Classic BPF (linux/filter.h, linux/seccomp.h).
_LD_W_ABS, _JMP_JA, _JEQ, _JGT, _JGE, _JSET, _RET = 0x20, 0x05, 0x15, 0x25, 0x35, 0x45, 0x06
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low word on little-endian machines)
_DENY = (_RET, 0, 0, _RET_ERRNO | errno.EPERM)
_ALLOW = (_RET, 0, 0, _RET_ALLOW)

Insn = tuple[int, int, int, int]


class SeccompUnsupported(RuntimeError):
    """This machine's architecture has no syscall table here: jobs cannot be filtered."""


def machine() -> str:
    """The running architecture, as the tables name it."""
    name = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)


def _numbers(arch: str) -> dict[str, int]:
    if arch not in _TABLES:
        raise SeccompUnsupported(f"no seccomp syscall table for {arch!r} (supported: {', '.join(_TABLES)})")
    return _TABLES[arch]


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as maximal runs [lo, hi]."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _search(runs: list[tuple[int, int]]) -> list[Insn]:
    """Binary search of the syscall number (in A) over the allowed runs: ALLOW inside one, else EPERM."""
    if len(runs) == 1:
        low, high = runs[0]
        return [(_JGE, 0, 2, low), (_JGT, 1, 0, high), _ALLOW, _DENY]
    middle = len(runs) // 2
    upper, lower = _search(runs[middle:]), _search(runs[:middle])
    # `ja` takes a 32-bit offset, so a subtree of any size can be jumped over (jt/jf hold 8 bits).
    return [(_JGE, 1, 0, runs[middle][0]), (_JMP_JA, 0, 0, len(upper)), *upper, *lower]


def _on_call(number: int, body: list[Insn]) -> list[Insn]:
    """`body` (which always returns) when the syscall number is `number`; otherwise fall through past it."""
    return [(_JEQ, 0, len(body), number), *body]


def _program(arch: str) -> list[Insn]:
    numbers = _numbers(arch)
    allowed = ALLOWED | PTRACE | ARCH_ALLOWED.get(arch, frozenset())
    program: list[Insn] = [
        (_LD_W_ABS, 0, 0, _ARCH), (_JEQ, 1, 0, _AUDIT_ARCH[arch]), (_RET, 0, 0, _RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, _NR),
    ]
    if arch == "x86_64":
        program += [(_JGE, 0, 1, _X32_SYSCALL_BIT), (_RET, 0, 0, _RET_KILL_PROCESS)]
    program += _on_call(numbers["clone3"], [(_RET, 0, 0, _RET_ERRNO | errno.ENOSYS)])
    program += _on_call(numbers["clone"], [(_LD_W_ABS, 0, 0, _ARG0), (_JSET, 1, 0, CLONE_NAMESPACE_FLAGS),
                                           _ALLOW, _DENY])
    # The kernel reads the domain as an int: the low word decides.
    program += _on_call(numbers["socket"], [(_LD_W_ABS, 0, 0, _ARG0), (_JEQ, 1, 0, AF_VSOCK), _ALLOW, _DENY])
    checks = [(_JEQ, len(PERSONALITIES) - i, 0, value) for i, value in enumerate(PERSONALITIES)]
    program += _on_call(numbers["personality"], [(_LD_W_ABS, 0, 0, _ARG0), *checks, _DENY, _ALLOW])
    plain = [numbers[name] for name in allowed if name in numbers]
    return program + _search(_ranges(plain))


@cache
def bpf_filter(arch: str | None = None) -> bytes:
    """The filter as struct sock_filter[] in this machine's byte order (what `bwrap --seccomp` and
    prctl(PR_SET_SECCOMP) take). Raises SeccompUnsupported on an architecture without a table."""
    if sys.byteorder != "little":
        raise SeccompUnsupported("big-endian machines are not supported")
    return b"".join(struct.pack("=HBBI", *insn) for insn in _program(arch or machine()))


def docker_profile() -> str:
    """The same policy as a Docker seccomp profile (the JSON text `security_opt=["seccomp=..."]` takes).
    Names this engine's libseccomp does not know are skipped by runc; other ABIs are not in the filter."""
    rules: list[dict[str, Any]] = [
        {"names": sorted(ALLOWED | PTRACE | ARCH_ALLOWED["x86_64"]), "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_NE"}]},
        *[{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
           "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}]} for value in PERSONALITIES],
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
    ]
    return json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.EPERM, "syscalls": rules})
