"""Builds the default Docker sandbox image locally, without any registry.

`python -m rewardforge.sandbox.image build [--tag rewardforge-sandbox:py3]` debootstraps a minimal Debian
(minbase + python3) of the host's release from the mirror apt already uses, adds the sandbox user, and
imports the root filesystem into the engine. It is idempotent: an image already carrying the tag is
reused (the engine's storage is the cache), so only the first run on a machine pays the build minutes.
Needs root, `debootstrap` and a running engine (scripts/setup_docker.sh provides all three).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rewardforge.core.errors import RewardforgeError

DEFAULT_TAG = "rewardforge-sandbox:py3"
# Bumped whenever the recipe changes: an image of an older revision under the tag is rebuilt, not reused.
IMAGE_REVISION = "3"
REVISION_LABEL = "org.rewardforge.sandbox.revision"
SANDBOX_USER = "sandbox:x:10001:10001:sandbox:/tmp:/usr/sbin/nologin\n"  # the uid DockerBackend runs jobs as
SANDBOX_GROUP = "sandbox:x:10001:\n"
# Not needed at run time, and a fifth of the root filesystem.
_SLIM = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
         "usr/share/locale")
# Nobody logs in to a sandbox: no password databases for a job to find. Debian's sitecustomize only tries
# to import apport (absent); that failed import is a quarter of every interpreter start.
_REMOVED = ("etc/shadow", "etc/shadow-", "etc/gshadow", "etc/gshadow-", "etc/python3*/sitecustomize.py",
            "usr/lib/python3*/sitecustomize.py")
_LOCK = Path(tempfile.gettempdir()) / "rewardforge-image-build.lock"


class ImageBuildError(RewardforgeError, RuntimeError):
    """The image could not be built; the message says which step failed and why."""


def host_release(os_release: Path = Path("/etc/os-release")) -> str:
    """The host's release codename (e.g. bookworm), which is what the image is built from."""
    fields = {}
    with contextlib.suppress(OSError):
        for line in os_release.read_text().splitlines():
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip().strip('"')
    codename = fields.get("VERSION_CODENAME")
    if not codename:
        raise ImageBuildError(f"cannot tell the host's release: no VERSION_CODENAME in {os_release}; "
                              "pass --suite")
    return codename


def _source_entries(text: str, deb822: bool) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """(types, uris, suites) of each entry of an apt sources file, in either format."""
    if deb822:
        for stanza in text.split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() != "no":
                yield (fields.get("types", "").split(), fields.get("uris", "").split(),
                       fields.get("suites", "").split())
        return
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[1:2] and words[1].startswith("["):  # options: deb [signed-by=...] uri suite
            while words[1:] and not words[1].endswith("]"):
                del words[1]
            del words[1]
        if len(words) >= 3:
            yield [words[0]], [words[1]], [words[2]]


APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def apt_mirror(suite: str, roots: Iterable[Path] = APT_SOURCES) -> str:
    """The first `deb` mirror apt is configured with for `suite`: the image comes from where the host's
    packages come from, so no host name is written anywhere in the project."""
    files: list[Path] = []
    for root in roots:
        if root.is_dir():
            files += sorted(p for p in root.iterdir() if p.suffix in (".list", ".sources"))
        elif root.is_file():
            files.append(root)
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for types, uris, suites in _source_entries(text, deb822=path.suffix == ".sources"):
            if "deb" in types and suite in suites and uris:
                return uris[0]
    raise ImageBuildError(f"no apt source for {suite!r} in {', '.join(str(r) for r in roots)}; pass --mirror")


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode != 0:
        raise ImageBuildError(f"{what} failed (exit {proc.returncode}): {proc.stdout[-2000:]}")


def make_rootfs(suite: str, mirror: str, dest: Path) -> None:
    """A minimal Debian with python3 in `dest`, slimmed, with the sandbox user added."""
    if os.geteuid() != 0:
        raise ImageBuildError("debootstrap needs root (run scripts/setup_docker.sh as root)")
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed (apt-get install debootstrap)")
    _run(["debootstrap", "--variant=minbase", "--include=python3", suite, str(dest), mirror],
         f"debootstrap {suite} from {mirror}")
    for rel in _SLIM:
        target = dest / rel
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    for pattern in _REMOVED:
        for path in dest.glob(pattern):
            path.unlink()
    with open(dest / "etc/passwd", "a") as fh:
        fh.write(SANDBOX_USER)
    with open(dest / "etc/group", "a") as fh:
        fh.write(SANDBOX_GROUP)


def _image(client: Any, tag: str) -> Any:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag)
    except ImageNotFound:
        return None


def image_revision(client: Any, tag: str) -> str | None:
    """The recipe revision of the image under `tag`: None when absent, "" when it carries none."""
    image = _image(client, tag)
    return None if image is None else str((image.labels or {}).get(REVISION_LABEL, ""))


def build(tag: str = DEFAULT_TAG, *, suite: str | None = None, mirror: str | None = None, force: bool = False,
          log: Callable[[str], None] = print) -> str:
    """Builds the image unless `tag` already exists (or `force`); returns what was done, for the log."""
    import docker

    client = docker.from_env(timeout=600)
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two concurrent builds would both spend minutes
        revision = image_revision(client, tag)
        if not force and revision == IMAGE_REVISION:
            return f"reusing image {tag}"
        outdated = _image(client, tag)
        if outdated is not None:
            log(f"replacing image {tag} (recipe revision {revision or 'unknown'}, current {IMAGE_REVISION})")
        suite = suite or host_release()
        mirror = mirror or apt_mirror(suite)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="rf-rootfs-") as tmp:
            rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
            log(f"debootstrap {suite} (minbase + python3) from {mirror} ...")
            make_rootfs(suite, mirror, rootfs)
            _run(["tar", "--numeric-owner", "-C", str(rootfs), "--exclude=./dev/*", "--exclude=./proc/*",
                  "--exclude=./sys/*", "-cf", str(tarball), "."], "packing the root filesystem")
            shutil.rmtree(rootfs)
            repository, _, version = tag.rpartition(":") if ":" in tag.split("/")[-1] else (tag, "", "latest")
            client.api.import_image_from_file(
                str(tarball), repository=repository, tag=version,
                changes=["USER 65534:65534", 'CMD ["sleep", "infinity"]', "WORKDIR /",
                         "ENV PATH=/usr/local/bin:/usr/bin:/bin", "ENV LANG=C.UTF-8",
                         f"LABEL {REVISION_LABEL}={IMAGE_REVISION} org.rewardforge.sandbox.suite={suite}"],
            )
        if image_revision(client, tag) != IMAGE_REVISION:
            raise ImageBuildError(f"docker import did not produce {tag}")
        if outdated is not None:  # now untagged: remove it unless containers still use it
            from docker.errors import DockerException

            with contextlib.suppress(DockerException):
                client.images.remove(outdated.id)
        return f"built image {tag} from Debian {suite} in {time.monotonic() - started:.0f}s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardforge.sandbox.image",
                                     description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the sandbox image unless it exists")
    build_cmd.add_argument("--tag", default=os.environ.get("RF_DOCKER_IMAGE", DEFAULT_TAG))
    build_cmd.add_argument("--suite", help="Debian release codename (default: the host's)")
    build_cmd.add_argument("--mirror", help="Debian mirror URL (default: the one apt uses)")
    build_cmd.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    args = parser.parse_args(argv)
    from docker.errors import DockerException

    try:
        print(build(args.tag, suite=args.suite, mirror=args.mirror, force=args.force))
    except (ImageBuildError, DockerException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
