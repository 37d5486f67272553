"""The reward server's guards: where it may listen, who may call it, what a request may carry.

Rules, each for a reason:
- it listens on loopback unless told otherwise, and refuses any other address without a token:
  the hand-written servers this replaces bind 0.0.0.0 with no auth (OpenRLHF #1317), so anyone on
  the cluster network can run rewards, including sandboxed code, on the trainer's machines;
- the token is compared in constant time (`hmac.compare_digest`), so response timing tells an
  attacker nothing about how much of a guess was right; it is accepted as `Bearer <token>` and, for
  clients that only take a URL (OpenRLHF's and slime's aiohttp calls), as the password of HTTP
  Basic auth (`http://rf:<token>@host:5000/get_reward`);
- a body is refused (413) before it is read when it declares more than the limit, and while it is
  read when it turns out larger, so a client cannot make the server buffer gigabytes;
- every refusal is an `ApiError` that names the field at fault, and nothing a client sees ever
  carries a traceback: those go to the server's log.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
import stat
import types
import typing
import warnings
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from rewardforge.records import dump_line

MIN_TOKEN_CHARS = 16
ModelT = typing.TypeVar("ModelT", bound=BaseModel)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class ServerConfigError(ValueError):
    """The server was asked to start in a way that is unsafe or cannot work."""


class ApiError(Exception):
    """A request the server refuses: an HTTP status, the field at fault, and what is wrong with it."""

    def __init__(self, status: int, field: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status
        self.field = field
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"field": self.field, "message": self.message}}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump_line(data), status_code=status, headers=headers, media_type="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the usual names for them; anything else reaches other machines."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token."""
    if token is None and not is_loopback(host):
        raise ServerConfigError(
            f"refusing to listen on {host} without authentication: anyone who can reach it could run "
            "rewards on this machine. Pass --token-file FILE (clients send 'Authorization: Bearer "
            "<token>'), or keep the default --host 127.0.0.1"
        )


def read_token(path: Path) -> str:
    """The bearer token in `path` (surrounding whitespace ignored); short or unreadable tokens are refused."""
    try:
        token = path.read_text(encoding="utf-8").strip()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ServerConfigError(f"cannot read --token-file {str(path)!r}: {reason}") from None
    if len(token) < MIN_TOKEN_CHARS or any(ch.isspace() for ch in token):
        raise ServerConfigError(
            f"--token-file {str(path)!r} must hold one token of at least {MIN_TOKEN_CHARS} characters "
            "without spaces; make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and os.name == "posix":
        # Not fatal (a container may mount secrets 0644), but worth saying once.
        warnings.warn(f"--token-file {str(path)!r} is readable by other users; chmod 600 it", stacklevel=2)
    return token


def presented_token(header: str | None) -> str:
    """The token a client sent in its Authorization header (Bearer, or Basic with the token as password)."""
    if not header:
        raise _unauthorized("missing; send 'Authorization: Bearer <token>'")
    scheme, _, credentials = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _unauthorized("Basic credentials are not base64 of 'user:token'") from None
        return decoded.partition(":")[2]
    raise _unauthorized(f"unsupported scheme {scheme!r}; send 'Authorization: Bearer <token>'")


def authorize(header: str | None, token: str) -> None:
    """Raise a 401 ApiError unless the header carries `token` (compared in constant time)."""
    if not hmac.compare_digest(presented_token(header).encode(), token.encode()):
        raise _unauthorized("wrong token")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "Authorization", message, headers={"WWW-Authenticate": 'Bearer realm="rewardforge"'})


async def read_json(request: Request, limit: int) -> Any:
    """The request body parsed as JSON, read at most `limit` bytes far."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length", f"not a byte count: {declared[:40]!r}")
        if int(declared) > limit:
            raise ApiError(413, "body", f"{int(declared)} bytes is over the limit of {limit} bytes (--max-body-mb)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body", f"more than the limit of {limit} bytes (--max-body-mb)")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise ApiError(400, "body", "empty; expected a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "body", f"invalid JSON: {exc}") from None


def validated(model: type[BaseModel], data: Any) -> Any:
    """`model` from parsed JSON; a mismatch is a 422 naming the first field at fault, as `samples[3].completion`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        loc = field_loc(model, errors[0]["loc"])
        if not loc:
            raise ApiError(422, "body", "expected a JSON object") from None
        # A union field reports one error per alternative ("a valid string", "a valid list"): say them all.
        messages = dict.fromkeys(e["msg"] for e in errors if tuple(e["loc"][: len(loc)]) == loc)
        raise ApiError(422, field_path(loc), "; or ".join(messages)) from None


def field_loc(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The part of a pydantic error location that names fields and items, without union member tags."""
    annotation: Any = model
    for depth, part in enumerate(loc):
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
            annotation = annotation.model_fields[str(part)].annotation
        elif origin is list and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict and isinstance(part, str):
            annotation = typing.get_args(annotation)[1]
        elif origin in (typing.Union, types.UnionType) or annotation is Any:
            return tuple(loc[:depth])  # the next part is a union member's tag, not a field
        else:
            return tuple(loc[: depth + 1])
    return tuple(loc)


def field_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """('samples', 3, 'completion') -> 'samples[3].completion'; the whole body when empty."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def limit_count(field: str, count: int, limit: int) -> None:
    """A request may carry at most `limit` samples (--max-samples)."""
    if count > limit:
        raise ApiError(413, field, f"{count} items is over the limit of {limit} per request (--max-samples)")


async def read_body(request: Request, model: type[ModelT], *, max_bytes: int, counted: str | None = None,
                    max_items: int = 0) -> ModelT:
    """The body as `model`: read within `max_bytes`, its list `counted` within `max_items`, then validated."""
    data = await read_json(request, max_bytes)
    if counted is not None and isinstance(data, dict) and isinstance(data.get(counted), list):
        limit_count(counted, len(data[counted]), max_items)
    result: ModelT = validated(model, data)
    return result
