"""The driver that runs inside the sandbox, and the value codec it shares with the trusted parent.

This file is copied verbatim into every sandbox job and run there by the sandbox's own `python3`, so it
uses the standard library only, works on Python 3.10+, and imports nothing slow at start-up (no `json`,
no `re`): interpreter start-up is most of the cost of a job. The parent imports it for `decode_value`.

Processes inside one job, and what each may know:

- the **driver** (this script's main process): reads the public job file, forks the zygote, then reads
  the secrets from stdin (the frame nonce and any opaque check code) and scrubs stdin. It marks itself
  non-dumpable first, so no other process of the job can read its memory or open its file descriptors.
  It alone writes to the job's real stdout, one frame per line, each starting with the nonce.
- the **zygote**: forked before any secret was read, so its memory holds none. It loads the solution once
  (the only untrusted code it runs) and forks one **candidate** child per test (or per group of asserts
  converted from one `check()`), which runs it and reports on pipes the driver created. A candidate never
  sees expected outputs (they stay in the parent) and cannot write a frame (it holds no nonce and no fd of
  the real stdout).
- a **checker** (opaque `check(candidate)` code only): forked from the driver, runs the dataset's test code
  with proxies whose calls go to a candidate serving them over pipes. Values cross as tagged JSON data,
  never as objects, so no `__eq__` of the solution's making ever reaches an `assert`.
"""

from __future__ import annotations

import binascii
import marshal
import math
import os
import sys

TYPE_CHECKING = False  # typing is not imported at run time: it costs milliseconds of start-up per job
if TYPE_CHECKING:
    from typing import Any

FRAME_MAGIC = "RFv1"
EXEC_FAILED = 127  # exit status of a test process whose command could not be started (as a shell's)
MAX_DEPTH = 64
_RESULT_CAP = 8 << 20

# ---------------------------------------------------------------------------------------------------
# Tagged value codec. JSON scalars and arrays stand for None/bool/int/float/str and lists; every other
# type is a one-key object: {"tuple": [...]}, {"set": [...]}, {"frozenset": [...]}, {"dict": [[k, v]...]},
# {"bytes": "<base64>"}, {"complex": [re, im]}, {"float": "nan"|"inf"|"-inf"}. Only exact builtin
# types are accepted, so a subclass cannot smuggle in its own __eq__ or __repr__.
# ---------------------------------------------------------------------------------------------------


class CodecError(ValueError):
    """A value cannot cross the sandbox boundary as data (unsupported type, too deep, malformed)."""


_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})
_SURROGATE_ESCAPES: dict = {}


def json_str(text: str) -> str:
    """`text` as a JSON string literal; lone surrogates become \\u escapes so the document stays valid."""
    if not text.isascii():
        if not _SURROGATE_ESCAPES:  # built on first use: most jobs never need it
            _SURROGATE_ESCAPES.update(_ESCAPES)
            _SURROGATE_ESCAPES.update({i: f"\\u{i:04x}" for i in range(0xD800, 0xE000)})
        return '"' + text.translate(_SURROGATE_ESCAPES) + '"'
    return '"' + text.translate(_ESCAPES) + '"'


def _float_text(value: float) -> str:
    if math.isfinite(value):
        return repr(value)
    return '{"float":"%s"}' % ("nan" if value != value else ("inf" if value > 0 else "-inf"))


def _encode(value: Any, out: list, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply (or cyclic)")
    kind = type(value)
    if value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        out.append(_float_text(value))
    elif kind is str:
        out.append(json_str(value))
    elif kind is list or kind is tuple or kind is set or kind is frozenset:
        items = value if kind is list or kind is tuple else _ordered(value)
        if kind is not list:
            out.append(f'{{"{kind.__name__}":')
        out.append("[")
        for index, item in enumerate(items):
            if index:
                out.append(",")
            _encode(item, out, depth + 1)
        out.append("]" if kind is list else "]}")
    elif kind is dict:
        out.append('{"dict":[')
        for index, (key, item) in enumerate(value.items()):
            out.append(",[" if index else "[")
            _encode(key, out, depth + 1)
            out.append(",")
            _encode(item, out, depth + 1)
            out.append("]")
        out.append("]}")
    elif kind is bytes:
        out.append('{{"bytes":"{}"}}'.format(binascii.b2a_base64(value, newline=False).decode("ascii")))
    elif kind is complex:
        out.append(f'{{"complex":[{_float_text(value.real)},{_float_text(value.imag)}]}}')
    else:
        raise CodecError(f"unsupported type {kind.__module__}.{kind.__qualname__}")


def _ordered(items: Any) -> list:
    """Set members in a stable order where they sort; the decoder does not care about order."""
    members = list(items)
    try:
        members.sort()
    except TypeError:
        pass
    return members


def encode_value(value: object) -> str:
    """`value` as tagged JSON text; raises CodecError for anything that is not plain data."""
    out: list = []
    _encode(value, out, 0)
    return "".join(out)


_TAGS = frozenset({"tuple", "set", "frozenset", "dict", "bytes", "complex", "float"})


def decode_value(obj: object, depth: int = 0) -> object:
    """The value a parsed tagged-JSON document stands for; raises CodecError when it is malformed."""
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) is list:
        return [decode_value(item, depth + 1) for item in obj]
    if type(obj) is not dict or len(obj) != 1:
        raise CodecError("malformed tagged value")
    ((tag, body),) = obj.items()
    if tag not in _TAGS:
        raise CodecError(f"unknown tag {tag!r}")
    try:
        if tag == "float":
            if body not in ("nan", "inf", "-inf"):
                raise CodecError("bad float tag")
            return float(body)
        if tag == "bytes":
            if type(body) is not str:
                raise CodecError("malformed bytes")
            return binascii.a2b_base64(body.encode("ascii"))
        if type(body) is not list:
            raise CodecError(f"malformed {tag}")
        if tag == "complex":
            if len(body) != 2:
                raise CodecError("malformed complex")
            re_part, im_part = (decode_value(part, depth + 1) for part in body)
            if type(re_part) is not float or type(im_part) is not float:
                raise CodecError("malformed complex")
            return complex(re_part, im_part)
        items = [decode_value(item, depth + 1) for item in body]
        if tag == "tuple":
            return tuple(items)
        if tag == "set" or tag == "frozenset":
            _check_hashes(items)
            return set(items) if tag == "set" else frozenset(items)
        pairs = []
        for pair in items:
            if type(pair) is not list or len(pair) != 2:
                raise CodecError("malformed dict item")
            pairs.append((pair[0], pair[1]))
        _check_hashes([key for key, _ in pairs])
        return dict(pairs)
    except (TypeError, ValueError, binascii.Error) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"malformed {tag}: {exc}") from None


MAX_SHARED_HASHES = 256


def _check_hashes(members: list) -> None:
    """Refuse set members or dict keys of which many share one hash value. Distinct ints that are equal modulo
    2**61 - 1 all hash alike, and building a set of n of them costs n**2 comparisons: 40,000 such members (1 MB
    of output) would hold the judging process for seconds per test. Honest values almost never share a hash."""
    if len(members) <= MAX_SHARED_HASHES:
        return
    hashes = [hash(member) for member in members]  # raises TypeError for an unhashable member, as set() would
    if len(hashes) - len(set(hashes)) > MAX_SHARED_HASHES:
        counts: dict = {}
        for value in hashes:
            counts[value] = counts.get(value, 0) + 1
        if max(counts.values()) > MAX_SHARED_HASHES:
            raise CodecError(f"more than {MAX_SHARED_HASHES} set members or dict keys share one hash value")


def _parse_json(text: str) -> object:
    """JSON parsing without importing `json` (which pulls in `re`): the C scanner behind it."""
    import _json

    class _Context:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int

        @staticmethod
        def parse_constant(name: str) -> object:
            raise CodecError(f"bare {name} in JSON")

    value, end = _json.make_scanner(_Context())(text, 0)  # type: ignore[arg-type]
    if text[end:].strip():
        raise CodecError("trailing data after JSON value")
    return value


def frame_tag(key: bytes, content: bytes) -> bytes:
    """The tag that ends a frame line: a keyed BLAKE2b (a MAC) of the frame's kind and body, in hex.

    The nonce that starts a frame only marks it; the tag proves it whole. A process that can write into the
    driver's stdout between two pieces of one large frame (the kernel splits writes over PIPE_BUF) could
    otherwise splice its own ending onto a genuine, nonce-bearing start. Only the driver and the parent
    hold the key, and the driver never writes it."""
    try:
        from _blake2 import blake2b
    except ImportError:  # a Python built without the module: hashlib's (slower to import) fallback
        from hashlib import blake2b
    return blake2b(content, digest_size=16, key=key).hexdigest().encode("ascii")


# ---------------------------------------------------------------------------------------------------
# Driver side. Everything below runs only inside the sandbox.
# ---------------------------------------------------------------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _libc_prctl() -> Any:
    """prctl(2) through `_ctypes` directly: `import ctypes` alone costs several milliseconds per job."""
    import _ctypes

    class _Int(_ctypes._SimpleCData):
        _type_ = "i"

    class _Function(_ctypes.CFuncPtr):
        _flags_ = 1  # FUNCFLAG_CDECL
        _restype_ = _Int

    class _Libc:
        _handle = _ctypes.dlopen(None)  # type: ignore[arg-type]

    return _Function(("prctl", _Libc()))  # type: ignore[arg-type]


try:  # built at import: once per warm worker when the sandbox backend preloads this module
    _prctl = _libc_prctl()
except (ImportError, AttributeError, OSError):  # not Linux: only the parent imports this module there
    _prctl = None


def _set_nondumpable() -> None:
    """PR_SET_DUMPABLE=0: other processes of the same uid can no longer ptrace us or open /proc/PID/fd."""
    if _prctl is None or _prctl(4, 0, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")


def _read_fd(fd: int) -> bytes:
    chunks: list = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _read_exact(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send_msg(fd: int, data: bytes) -> None:
    _write_all(fd, len(data).to_bytes(4, "big") + data)


def _recv_msg(fd: int, cap: int) -> bytes:
    size = int.from_bytes(_read_exact(fd, 4), "big")
    if size > cap:
        raise CodecError(f"message of {size} bytes exceeds the cap")
    return _read_exact(fd, size)


class _Sock:
    """A SOCK_SEQPACKET pair end carrying small marshal messages and, optionally, file descriptors.
    Built on `_socket` directly: `socket` and `array` would cost milliseconds of imports per job."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock

    def send(self, message: Any, fds: tuple = ()) -> None:
        import _socket

        payload = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
        ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, payload)] if fds else []
        self.sock.sendmsg([marshal.dumps(message)], ancillary)

    def recv(self) -> tuple:
        import _socket

        data, ancillary, _flags, _addr = self.sock.recvmsg(1 << 20, _socket.CMSG_SPACE(16 * 4))
        if not data:
            raise EOFError("peer closed")
        fds = []
        for level, kind, payload in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds += [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
                        for i in range(0, len(payload) - 3, 4)]
        return marshal.loads(data), fds


def _apply_limits(limits: dict) -> None:
    import resource

    cpu = max(1, math.ceil(limits["cpu_s"]))
    for kind, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_CORE, 0)):
        _lower_limit(resource, kind, value)
    if limits.get("memory_bytes"):
        _lower_limit(resource, resource.RLIMIT_AS, limits["memory_bytes"])


def _lower_limit(resource: Any, kind: int, value: int) -> None:
    _soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(kind, (value, hard))
    except (ValueError, OSError):
        pass


def _place_fds(fds: list) -> None:
    """Move `fds` onto 0, 1, 2, 3, ... and close every other descriptor (our copies of pipes and sockets)."""
    high = [os.dup(fd) for fd in fds]  # dup first: a target number may already be one of the sources
    for fd in fds:
        os.close(fd)
    for target, fd in enumerate(high):
        os.dup2(fd, target)
        os.close(fd)
    os.closerange(len(fds), 1 << 16)


def _load_module(job: dict) -> object:
    module = type(sys)("solution")
    module.__file__ = job["source_path"]
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["solution"] = module
    exec(compile(job["source"], job["source_path"], "exec"), module.__dict__)
    return module


def _resolve(module: Any, name: str) -> Any:
    """`name` in the solution: a function, or `Class.method` called on a fresh instance (LeetCode style)."""
    head, _, method = name.partition(".")
    target = getattr(module, head)
    if method:
        target = getattr(target(), method)
    return target


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:2000]


def _run_candidate(task: dict, job: dict, module: Any) -> None:
    """Body of a candidate child; fds are already 0=stdin, 1=stdout, 2=stderr, 3=result (4=responses)."""
    kind = task["kind"]
    _apply_limits(task["limits"])
    if kind == "exec":
        try:
            os.execv(task["argv"][0], task["argv"])
        except OSError as exc:  # a compiler missing from the sandbox's image: say so, never a silent failure
            _write_all(2, f"cannot run {task['argv'][0]}: {exc.strerror}".encode())
            os._exit(EXEC_FAILED)
    if kind == "stdio":
        _run_script(job)
    if kind == "call":
        text = _call_result(module, job["tests"][task["index"]])
        _flush_std()
        _write_all(3, text.encode("utf-8"))
        os._exit(0)
    if kind == "calls":
        for index in task["indices"]:
            data = _call_result(module, job["tests"][index]).encode("utf-8")
            _flush_std()
            _write_all(3, len(data).to_bytes(4, "big") + data)
        os._exit(0)
    if kind == "serve":
        _serve(module)
    os._exit(70)


def _call_result(module: Any, test: dict) -> str:
    """'R' + the tagged return value, 'U' + why it is not plain data, or 'E' + the exception raised."""
    try:
        value = _resolve(module, test["fn"])(*test["args"], **test["kwargs"])
        return "R" + encode_value(value)
    except CodecError as exc:
        return "U" + str(exc)
    except BaseException as exc:  # the solution's own exception is a verdict, not a crash
        return "E" + _error_text(exc)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _run_script(job: dict) -> None:
    """Run the solution as `__main__` on fds 0-2, exiting with its exit status."""
    import io

    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="replace")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=False)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.argv = [job["source_path"]]
    code = 0
    namespace = {"__name__": "__main__", "__file__": job["source_path"], "__builtins__": __builtins__}
    try:
        exec(compile(job["source"], job["source_path"], "exec"), namespace)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(str(exc.code) + "\n")
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    _flush_std()
    os._exit(code & 0xFF)


def _serve(module: Any) -> None:
    """Answer calls from a checker on fds 4 (requests, marshal from trusted code) and 5 (tagged JSON)."""
    names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("__"))
    _send_msg(5, encode_value(names).encode("utf-8"))
    while True:
        try:
            name, args, kwargs = marshal.loads(_recv_msg(4, _RESULT_CAP))
        except EOFError:
            os._exit(0)
        args = list(args)
        try:
            value = _resolve(module, name)(*args, **kwargs)
            reply = f'{{"ok":{encode_value(value)},"args":{encode_value(args)}}}'
        except CodecError as exc:
            reply = f'{{"unsupported":{json_str(str(exc))}}}'
        except BaseException as exc:
            reply = f'{{"raised":[{json_str(type(exc).__name__)},{json_str(str(exc)[:2000])}]}}'
        _flush_std()
        _send_msg(5, reply.encode("utf-8"))


def _zygote(sock: _Sock, job: dict) -> None:
    """Load the solution when told to, then fork one candidate per task; report pids and exit statuses."""
    import select

    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    module = None
    message, _ = sock.recv()
    if message in ("load", "syntax"):
        try:
            if message == "load":
                module = _load_module(job)
                _flush_std()  # what the module printed must not surface in the first test's output
            else:
                compile(job["source"], job["source_path"], "exec")
            sock.send(("loaded", ""))
        except SyntaxError as exc:
            sock.send(("syntax", f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"))
        except BaseException as exc:
            sock.send(("import", _error_text(exc)))
    poller = select.poll()
    poller.register(sock.sock.fileno(), select.POLLIN)
    pidfds: dict = {}
    while True:
        for fd, _event in poller.poll():
            if fd in pidfds:
                pid = pidfds.pop(fd)
                poller.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                sock.send(("exit", pid, status))
                continue
            try:
                task, fds = sock.recv()
            except (EOFError, OSError):
                os._exit(0)
            pid = os.fork()
            if pid == 0:
                try:
                    os.setsid()
                    _place_fds(fds)
                    _run_candidate(task, job, module)
                finally:
                    os._exit(70)
            for fd_ in fds:
                os.close(fd_)
            pidfd = os.pidfd_open(pid)
            pidfds[pidfd] = pid
            poller.register(pidfd, select.POLLIN)
            sock.send(("pid", pid))


class _ZygoteGone(Exception):
    """The zygote died (only the candidate's code can kill it): no further test can start."""


class _Driver:
    """Runs the job's tests one at a time and reports each as a frame on the real stdout."""

    def __init__(self, job: dict, sock: _Sock, nonce: str, key: bytes, checks: dict) -> None:
        self.job = job
        self.sock = sock
        self.prefix = (f"{FRAME_MAGIC} {nonce} ").encode("ascii")
        self.key = key
        self.checks = checks
        self.exits: dict = {}

    def frame(self, kind: str, body: str) -> None:
        content = kind.encode("ascii") + b" " + body.encode("utf-8", "surrogatepass")
        _write_all(1, self.prefix + content + b" " + frame_tag(self.key, content) + b"\n")

    # -- zygote requests ------------------------------------------------------------------------
    def next_message(self, deadline: float) -> Any:
        """The zygote's next message (recording exit reports), or None at the deadline."""
        import select
        import time

        poller = select.poll()
        poller.register(self.sock.sock.fileno(), select.POLLIN)
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return None
        try:
            message, _ = self.sock.recv()
        except (EOFError, OSError):
            raise _ZygoteGone from None
        if message[0] == "exit":
            self.exits[message[1]] = message[2]
        return message

    def _spawn(self, task: dict, fds: list) -> int:
        import time

        try:
            self.sock.send(task, tuple(fds))
        except OSError:
            raise _ZygoteGone from None
        finally:
            for fd in fds:
                os.close(fd)
        while True:
            message = self.next_message(time.monotonic() + 10.0)
            if message is None:
                raise _ZygoteGone
            if message[0] == "pid":
                return int(message[1])

    def _wait_exit(self, pid: int, deadline: float) -> object:
        while pid not in self.exits:
            if self.next_message(deadline) is None:
                return None
        return self.exits.pop(pid)

    # -- one test -------------------------------------------------------------------------------
    def run_child(self, task: dict, stdin_fd: int, extra: list, timeout_s: float, watch: Any = None) -> dict:
        """Spawn a candidate with captured stdout/stderr and a result pipe, and collect what it produced.

        The test ends when the candidate (or `watch`, a pidfd of our own checker) has exited and its
        pipes are drained, or at the deadline."""
        import time

        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        started = time.monotonic()
        pid = self._spawn(task, [stdin_fd, out_w, err_w, res_w, *extra])
        streams = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
        pidfd = watch if watch is not None else _pidfd(pid)
        try:
            timed_out, overflow = _pump(streams, started + timeout_s, self.job["output_cap"], err_r, pidfd)
        finally:
            if watch is None and pidfd is not None:
                os.close(pidfd)
        _kill(pid)
        status = self._wait_exit(pid, time.monotonic() + 2.0)
        wall = time.monotonic() - started
        for fd in streams:
            os.close(fd)
        out = streams[out_r] if task["kind"] in ("stdio", "exec") else None  # only stdin/stdout tests judge it
        return _outcome(status, timed_out, overflow, wall, out, streams[err_r], streams[res_r])

    def run_test(self, index: int, test: dict) -> dict:
        limits = {"cpu_s": test["cpu_s"], "memory_bytes": test["memory_bytes"]}
        kind = test["kind"]
        if kind == "check":
            return self.run_check(index, test, limits)
        if kind == "stdio":
            stdin_fd = os.open(test["input_path"], os.O_RDONLY)
            if self.job["mode"] == "exec":
                task = {"kind": "exec", "argv": self.job["run_argv"], "limits": limits}
            else:
                task = {"kind": "stdio", "limits": limits}
        else:
            stdin_fd = os.open(os.devnull, os.O_RDONLY)
            task = {"kind": "call", "index": index, "limits": limits}
        return self.run_child(task, stdin_fd, [], test["timeout_s"])

    def run_group(self, indices: list) -> list:
        """Call tests converted from one test program, run in one forked child in order, each result
        streamed back as it completes and each call given its own time limit (a sliding deadline). A call
        that hangs or ends the child fails alone; the calls after it start again in a fresh child."""
        import time

        reports = []
        pending = list(indices)
        while pending:
            first = self.job["tests"][pending[0]]
            limits = {"cpu_s": first["cpu_s"] * len(pending), "memory_bytes": first["memory_bytes"]}
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            res_r, res_w = os.pipe()
            started = time.monotonic()
            pid = self._spawn({"kind": "calls", "indices": pending, "limits": limits},
                              [os.open(os.devnull, os.O_RDONLY), out_w, err_w, res_w])
            streams = {out_r: bytearray(), err_r: bytearray(), res_r: bytearray()}
            results: list = []
            pidfd = _pidfd(pid)
            try:
                timed_out, overflow = _pump(streams, started + first["timeout_s"], self.job["output_cap"], err_r,
                                            pidfd, results=(res_r, results, first["timeout_s"]))
            finally:
                if pidfd is not None:
                    os.close(pidfd)
            _kill(pid)
            status = self._wait_exit(pid, time.monotonic() + 2.0)
            for fd in streams:
                os.close(fd)
            last = started
            for index, (data, at) in zip(pending, results, strict=False):  # extra messages are ignored
                reports.append((index, {"exit": 0, "sig": None, "timeout": False, "overflow": False,
                                        "t": at - last, "out": "", "err": "", "res": _b64(data)}))
                last = at
            if len(results) >= len(pending):
                break
            failed = _outcome(status, timed_out, overflow, time.monotonic() - last, None, streams[err_r], b"")
            reports.append((pending[len(results)], failed))
            pending = pending[len(results) + 1:]
        return reports

    def run_check(self, index: int, test: dict, limits: dict) -> dict:
        """A checker (forked from us, trusted test code) calling a serving candidate through pipes."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        ok_r, ok_w = os.pipe()
        checker = os.fork()
        if checker == 0:
            try:
                os.setsid()
                _place_fds([os.open(os.devnull, os.O_RDWR), os.open(os.devnull, os.O_RDWR), os.dup(2),
                            ok_w, req_w, rep_r])
                _apply_limits(limits)
                code, needs = self.checks[index]
                _write_all(3, _run_check_code(code, needs, test.get("entry_point")).encode("utf-8"))
            finally:
                os._exit(0)
        for fd in (req_w, rep_r, ok_w):
            os.close(fd)
        watch = os.pidfd_open(checker)
        try:
            task = {"kind": "serve", "limits": limits}
            outcome = self.run_child(task, os.open(os.devnull, os.O_RDONLY), [req_r, rep_w], test["timeout_s"],
                                     watch=watch)
        finally:
            os.close(watch)
            _kill(checker)
            os.waitpid(checker, 0)
        verdict = os.read(ok_r, 1 << 16)
        os.close(ok_r)
        outcome["res"] = _b64(verdict)
        if verdict:
            outcome["timeout"] = False
        return outcome


def _pidfd(pid: int) -> Any:
    try:
        return os.pidfd_open(pid)
    except OSError:  # already gone
        return None


_GRACE_S = 0.05


def _pump(streams: dict, deadline: float, cap: int, err_fd: int, pidfd: Any, results: Any = None) -> tuple:
    """Read all pipes until each is closed, or the watched process exited (plus a short grace for what
    it left in the pipes), or the deadline. Keeps `cap` bytes per stream, the last 4 KiB of stderr.
    `results=(fd, found, timeout_s)`: `fd` carries length-prefixed messages, appended to `found` as
    (message, time) as they complete; each one moves the deadline to `timeout_s` later.
    Returns (timed_out, overflowed)."""
    import select
    import time

    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    else:
        deadline = min(deadline, time.monotonic() + _GRACE_S)
    open_fds = len(streams)
    exited = pidfd is None
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            return not exited, False
        for fd, _event in poller.poll(left * 1000):
            if fd == pidfd:
                poller.unregister(fd)
                exited = True
                deadline = min(deadline, time.monotonic() + _GRACE_S)
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                poller.unregister(fd)
                open_fds -= 1
                continue
            buffer = streams[fd]
            buffer += chunk
            if results is not None and fd == results[0] and _split_messages(buffer, results[1]) and not exited:
                deadline = time.monotonic() + results[2]
            if len(buffer) > cap:
                if fd != err_fd:
                    return False, True
                del buffer[: len(buffer) - 4096]
    return False, False


def _split_messages(buffer: bytearray, found: list) -> int:
    """Move the complete length-prefixed messages at the start of `buffer` into `found`; how many."""
    import time

    count = 0
    while len(buffer) >= 4:
        size = int.from_bytes(buffer[:4], "big")
        if len(buffer) < 4 + size:
            break
        found.append((bytes(buffer[4:4 + size]), time.monotonic()))
        del buffer[:4 + size]
        count += 1
    return count


def _kill(pid: int) -> None:
    import signal

    if pid <= 1 or pid == os.getpid():
        return
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


def _b64(data: bytes | bytearray) -> str:
    return binascii.b2a_base64(bytes(data), newline=False).decode("ascii")


def _outcome(status: object, timed_out: bool, overflow: bool, wall: float, out: bytearray | None, err: bytearray,
             res: bytes | bytearray) -> dict:
    """A test's report. `out` is None for calls and checks: what they print is capped (an overflow is still
    reported) but never shipped, since only the returned value or the check's verdict is judged; a job of 100
    tests printing 1 MB each would otherwise hand the parent 130 MB of frames to hold and decode."""
    exit_code = sig = None
    if isinstance(status, int):
        if os.WIFEXITED(status):
            exit_code = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
    return {"exit": exit_code, "sig": sig, "timeout": timed_out, "overflow": overflow, "t": wall,
            "out": "" if out is None else _b64(out), "err": bytes(err[-2000:]).decode("utf-8", "replace"),
            "res": _b64(res)}


def _run_check_code(code: str, needs: object, entry_point: object) -> str:
    """Run opaque test code against proxies; 'P' when it completes, 'F<reason>' when it does not.

    The test code sees the real builtins (this process never ran solution code) and, from the solution,
    only the functions it `needs` (global names it reads without defining them, builtins excluded: see
    `checks.needed_names`; helpers the dataset's prompt defines come with the code instead, see
    `checks.trusted_helpers`). A solution's `abs` or `range` therefore never replaces the builtin in a check."""
    names = _decode_reply(_recv_msg(5, _RESULT_CAP))
    if type(names) is not list:
        return "Fthe candidate did not list its functions"
    namespace: dict = {"__name__": "__rf_check__", "__builtins__": __builtins__}
    wanted = set(needs) if isinstance(needs, list | tuple) else set()
    for name in names:
        if type(name) is str and name in wanted:
            namespace[name] = _proxy(name)
    try:
        exec(compile(code, "<tests>", "exec"), namespace)
        if entry_point:
            namespace["check"](_proxy(str(entry_point)))
    except AssertionError as exc:
        return "Fassertion failed" + (f": {exc}" if str(exc) else "")
    except BaseException as exc:
        return "F" + _error_text(exc)
    return "P"


class CandidateError(Exception):
    """Raised by a proxy when the candidate raised an exception whose type is not a builtin, or one that steers
    the test code's control flow instead of failing it (see _FLOW)."""


# Raised from inside a call, these end an iteration instead of failing it: a StopIteration out of the function
# that `map`, `filter` or `iter(f, sentinel)` calls ends that iterator early, so `all(map(check, cases))` would be
# True for a candidate that raises it at once. The test code sees a CandidateError instead.
_FLOW = (StopIteration, StopAsyncIteration)


def _decode_reply(data: bytes) -> object:
    return decode_value(_parse_json(data.decode("utf-8")))


def _proxy(name: str) -> object:
    import builtins

    def call(*args: object, **kwargs: object) -> object:
        _send_msg(4, marshal.dumps((name, args, kwargs)))  # type: ignore[arg-type]
        reply = _parse_json(_recv_msg(5, _RESULT_CAP).decode("utf-8"))
        if type(reply) is not dict:
            raise CodecError("malformed reply from the candidate")
        if "raised" in reply:
            kind, message = reply["raised"]
            exc_type = getattr(builtins, kind, None) if type(kind) is str else None
            if isinstance(exc_type, type) and issubclass(exc_type, Exception) and not issubclass(exc_type, _FLOW):
                raise exc_type(message)
            raise CandidateError(f"{kind}: {message}")
        if "ok" not in reply:
            raise CodecError("the candidate returned a value that is not plain data: {}".format(reply.get("unsupported")))
        value = decode_value(reply["ok"])
        _write_back(args, decode_value(reply.get("args")))
        return value

    call.__name__ = name
    return call


def _write_back(args: tuple, after: object) -> None:
    """Mirror in-place changes the candidate made to list/dict/set arguments."""
    if type(after) is not list or len(after) != len(args):
        return
    for before, now in zip(args, after, strict=False):
        if type(before) is list and type(now) is list:
            before[:] = now
        elif type(before) is dict and type(now) is dict:
            before.clear()
            before.update(now)
        elif type(before) is set and type(now) is set:
            before.clear()
            before.update(now)


def main(argv: list) -> None:
    _set_nondumpable()
    with open(argv[1], "rb") as handle:
        job = marshal.load(handle)
    import _socket
    import resource  # noqa: F401 - imported once here, so each forked test does not load it again

    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET, 0)
    zygote = os.fork()
    if zygote == 0:
        ours.close()
        try:
            _zygote(_Sock(theirs), job)
        finally:
            os._exit(71)
    theirs.close()
    secrets = marshal.loads(_read_fd(0))
    _scrub_stdin()
    driver = _Driver(job, _Sock(ours), secrets["nonce"], secrets["key"], secrets["checks"])
    driver.frame("ready", "{}")
    try:
        _drive(driver, job)
    except _ZygoteGone:
        driver.frame("lost", '{"i":-1}')
    finally:
        _kill(zygote)
        os.waitpid(zygote, 0)
    driver.frame("done", "{}")
    os._exit(0)  # every frame is written (unbuffered); skipping interpreter teardown saves milliseconds per job


def _scrub_stdin() -> None:
    """The secrets came on stdin; a memfd stdin is readable again by anyone holding it, so empty it."""
    try:
        os.ftruncate(0, 0)
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _drive(driver: _Driver, job: dict) -> None:
    import time

    python = job["mode"] == "python"
    driver.sock.send(("load" if job["preload"] else "syntax") if python else "skip")
    if python:
        deadline = time.monotonic() + job["load_timeout_s"]
        status = driver.next_message(deadline)
        while status is not None and status[0] == "exit":
            status = driver.next_message(deadline)
        if status is None:
            status = ("timeout", "loading the solution took over {:g}s".format(job["load_timeout_s"]))
        driver.frame("load", f'{{"status":{json_str(status[0])},"detail":{json_str(status[1])}}}')
        if status[0] != "loaded":
            return
    elif job.get("compile_argv"):
        limits = job["compile_limits"]
        compiled = driver.run_child({"kind": "exec", "argv": job["compile_argv"], "limits": limits},
                                    os.open(os.devnull, os.O_RDONLY), [], limits["cpu_s"])
        driver.frame("compile", _frame_body(compiled))
        if compiled["exit"] != 0:
            return
    tests = job["tests"]
    index = 0
    while index < len(tests):
        group = tests[index].get("group")
        end = index + 1
        while group is not None and end < len(tests) and tests[end].get("group") == group:
            end += 1
        try:
            if group is None:
                reports = [(index, driver.run_test(index, tests[index]))]
            else:
                reports = driver.run_group(list(range(index, end)))
        except _ZygoteGone:
            driver.frame("lost", '{"i":' + str(index) + "}")
            return
        for number, outcome in reports:
            outcome["i"] = number
            driver.frame("test", _frame_body(outcome))
            if job["fail_fast"] and (outcome["timeout"] or outcome["overflow"] or outcome["sig"] is not None):
                return
        index = end


def _frame_body(outcome: dict) -> str:
    parts = []
    for key, value in outcome.items():
        if value is None:
            text = "null"
        elif type(value) is bool:
            text = "true" if value else "false"
        elif type(value) in (int, float):
            text = repr(value)
        else:
            text = json_str(str(value))
        parts.append(f"{json_str(key)}:{text}")
    return "{" + ",".join(parts) + "}"


if __name__ == "__main__":
    main(sys.argv)
