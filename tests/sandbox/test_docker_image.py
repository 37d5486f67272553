"""The image builder's host introspection: which release and which mirror the image is built from.
(The build itself runs in scripts/setup_docker.sh; test_docker.py runs against its result.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardforge.sandbox.image import ImageBuildError, apt_mirror, host_release, main

DEB822 = """\
Types: deb-src
URIs: http://src.example.invalid/debian
Suites: bookworm
Components: main

Types: deb
# a comment line inside a stanza
URIs: http://mirror.example.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.invalid/debian-security
Suites: bookworm-security
Components: main
"""


def test_host_release_reads_the_codename(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
                          "VERSION_CODENAME=bookworm\nID=debian\n")
    assert host_release(os_release) == "bookworm"
    os_release.write_text("ID=somethingelse\n")
    with pytest.raises(ImageBuildError, match="--suite"):
        host_release(os_release)


def test_apt_mirror_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(DEB822)
    (tmp_path / "other.sources.disabled").write_text(DEB822.replace("mirror.example", "disabled.example"))
    assert apt_mirror("bookworm", [tmp_path]) == "http://mirror.example.invalid/debian"
    assert apt_mirror("bookworm-security", [tmp_path]) == "http://security.example.invalid/debian-security"


def test_apt_mirror_from_one_line_sources(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text(
        "# deb http://commented.example.invalid/debian bookworm main\n"
        "deb-src http://src.example.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] "
        "http://one.example.invalid/debian bookworm main\n"
    )
    assert apt_mirror("bookworm", [sources]) == "http://one.example.invalid/debian"


def test_apt_mirror_disabled_stanza_and_missing_suite(tmp_path: Path) -> None:
    (tmp_path / "a.sources").write_text(
        "Enabled: no\nTypes: deb\nURIs: http://off.example.invalid/debian\nSuites: trixie\n"
    )
    with pytest.raises(ImageBuildError, match="--mirror"):
        apt_mirror("trixie", [tmp_path])


def test_this_hosts_apt_config_names_a_mirror_for_its_release() -> None:
    release = host_release()
    assert apt_mirror(release).startswith(("http://", "https://", "file:/"))


def test_cli_requires_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "build" in capsys.readouterr().err
