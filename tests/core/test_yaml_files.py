"""A YAML file a user named: each way it can be wrong is one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardforge.core.errors import RewardError
from rewardforge.core.yaml_files import read_yaml_file


def test_a_good_file_is_parsed(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("type: weighted_sum\ncomponents: [a, b]\n")
    assert read_yaml_file(tmp_path / "ok.yaml", "stack") == {"type": "weighted_sum", "components": ["a", "b"]}


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.yaml", None, "cases file not found: {path}"),
    ("folder.yaml", "dir", "cannot read cases file {path}: Is a directory"),
    ("latin1.yaml", b"a: \xe9t\xe9\n", "cannot read cases file {path}: not UTF-8 text"),
    ("bad.yaml", b"a: [1\n", "{path}: not valid YAML: "),
], ids=["missing", "directory", "not-utf8", "bad-yaml"])
def test_each_problem_names_the_file(tmp_path: Path, name: str, content: bytes | str | None, message: str) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(RewardError) as raised:
        read_yaml_file(path, "cases file")
    assert str(raised.value).startswith(message.format(path=path))
    assert "\n" not in str(raised.value).split(": not valid YAML: ")[0]
