"""The README's reward-server snippets run as written: the token line, `rewardforge serve` (on a free
port), and each `curl` call, whose reply must contain what its `# ->` comment shows."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from rf_server_support import running_server

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def section_blocks(title: str) -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined, comments left out."""
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_server_snippets_run_and_answer_what_they_show(tmp_path: Path) -> None:
    blocks = section_blocks("The reward server (`rewardforge serve`)")
    assert [lang for lang, _ in blocks] == ["bash", "bash"]
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    make_token, serve = commands(blocks[0][1])
    subprocess.run(["bash", "-c", make_token], cwd=tmp_path, check=True, timeout=60)
    token = (tmp_path / "rf.token").read_text().strip()

    argv = shlex.split(serve)
    assert argv[:2] == ["rewardforge", "serve"] and "--token-file" in argv
    argv[argv.index("--port") + 1] = "0"  # the snippet's 5000 may be taken here
    with running_server(*argv[2:], cwd=tmp_path, token=token) as server:
        port = server.url.rsplit(":", 1)[1]
        curls = commands(blocks[1][1])
        shown = [line.split("# -> ", 1)[1] for line in blocks[1][1].splitlines() if line.startswith("# -> ")]
        assert len(curls) == len(shown) == 2
        for command, expected in zip(curls, shown, strict=True):
            done = subprocess.run(["bash", "-c", command.replace("127.0.0.1:5000", f"127.0.0.1:{port}")],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            at = 0
            for piece in expected.split("..."):  # the comment elides with "..."; the rest is verbatim
                found = done.stdout.find(piece.strip(","), at)
                assert found >= 0, f"{piece!r} not in {done.stdout}"
                at = found + len(piece.strip(","))
