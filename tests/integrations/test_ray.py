"""Ray scale-out: a local Ray instance started here scores exactly what the local backend scores."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rf_test_support import ROOT
from typer.testing import CliRunner

import rewardforge as rf
from rewardforge.cli import app

ray = pytest.importorskip("ray", reason="Ray is part of the dev extra: pip install -e '.[dev]'")

pytestmark = pytest.mark.slow

STACK = ROOT / "examples" / "demo_stack.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False,
             configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield
    finally:
        ray.shutdown()


def rows() -> list[dict]:
    """The demo's rows, plus rows in other shapes: chat prompts, metadata, extra columns, no reference."""
    demo = [orjson.loads(line) for line in (ROOT / "examples" / "demo.jsonl").read_bytes().splitlines() if line]
    extra = [
        {"id": "chat", "prompt": [{"role": "user", "content": "2+2?"}], "completion": "<answer>4</answer>",
         "reference": "4", "metadata": {"source": "gsm8k", "difficulty": 1}},
        {"id": "nogold", "prompt": "?", "completion": "<think>hm</think><answer>7</answer>", "group_id": 3},
        {"id": "spam", "prompt": "?", "completion": "x=2 or x=3. The answer is 2, or maybe 3", "reference": "2",
         "tags": ["a", "b"]},
    ]
    return demo + extra


def write_jsonl(path: Path, items: list[dict], blank_every: int = 0) -> Path:
    lines = []
    for index, item in enumerate(items):
        lines.append(orjson.dumps(item) + b"\n")
        if blank_every and index % blank_every == 0:
            lines.append(b"\n")  # blank lines are skipped by both backends
    path.write_bytes(b"".join(lines))
    return path


def test_score_dataset_matches_rf_score_row_for_row(local_ray: None) -> None:
    from rewardforge.integrations.ray import score_dataset

    items = [{**row, "n": n, "answer": row.get("reference")} for n, row in enumerate(rows())]
    for item in items:
        item.pop("reference", None)
        item.pop("prompt", None)  # chat prompts and strings in one Arrow column would not unify
        item.pop("metadata", None)
    ds = ray.data.from_items(items)
    scored = score_dataset(STACK, ds, field_map={"reference": "answer"}, batch_size=4, workers=2).take_all()
    scored.sort(key=lambda row: row["n"])  # Ray keeps no order unless asked to
    expected = rf.score(STACK, [{"completion": i["completion"], "reference": i["answer"]} for i in items])
    assert len(scored) == len(items)
    for row, item, verdict in zip(scored, items, expected, strict=True):
        assert row["completion"] == item["completion"] and row["answer"] == item["answer"]  # passed through
        assert row["status"] == verdict.status
        assert row["reward"] == verdict.value
        assert row["reason"] == verdict.reason
        assert orjson.loads(row["components"]) == verdict.components
        assert orjson.loads(row["info"]) == orjson.loads(orjson.dumps(verdict.info))
    assert {row["status"] for row in scored} >= {"ok"}


def test_cli_ray_backend_writes_the_local_backends_file_byte_for_byte(local_ray: None, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", rows() * 3, blank_every=5)
    local, distributed = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    base = ["score", "-r", str(STACK), "-i", str(source), "--batch-size", "4"]
    done = runner.invoke(app, [*base, "-o", str(local)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, [*base, "-o", str(distributed), "--backend", "ray"])
    assert done.exit_code == 0, done.output
    assert distributed.read_bytes() == local.read_bytes()
    assert len(local.read_bytes().splitlines()) == len(rows()) * 3
    assert "status ok" in done.output and "(ray)" in done.output


def test_cli_ray_backend_reads_parquet_like_jsonl(local_ray: None, tmp_path: Path) -> None:
    items = [{"id": i, "completion": f"The answer is {i}", "answer": str(i if i % 4 else i + 1)} for i in range(40)]
    jsonl = write_jsonl(tmp_path / "in.jsonl", items)
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(items), parquet)
    outputs = {}
    for name, source, backend in (("local", jsonl, "local"), ("parquet", parquet, "ray")):
        target = tmp_path / f"{name}.jsonl"
        done = runner.invoke(app, ["score", "-r", "math_equivalence", "-i", str(source), "-o", str(target),
                                   "--field", "reference=answer", "--backend", backend])
        assert done.exit_code == 0, done.output
        outputs[name] = target.read_bytes()
    assert outputs["parquet"] == outputs["local"]


def test_cli_ray_backend_names_a_bad_line_and_exits_2(local_ray: None, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"completion": "a", "reference": "a"}\n\n{oops this is not json\n')
    done = runner.invoke(app, ["score", "-r", "exact_match", "-i", str(source), "-o", str(tmp_path / "out.jsonl"),
                               "--backend", "ray"])
    assert done.exit_code == 2
    assert "line 3: invalid JSON at column 2" in done.output  # numbered as the local backend numbers it
    assert "Traceback" not in done.output


def test_cli_ray_backend_writes_bad_line_rows_as_the_local_backend_does(local_ray: None, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = ['\ufeff{"completion": "a", "reference": "a"}', "", "{oops", "[1, 2]", '{"prompt": "no completion"}',
             '{"completion": "b\u2028c", "reference": "b\u2028c", "n": 123456789012345678901234567890}', "\r",
             '{"completion": 7}']
    source.write_bytes("\n".join(lines).encode() + b"\r\n")
    outputs = {}
    for backend in ("local", "ray"):
        target = tmp_path / f"{backend}.jsonl"
        done = runner.invoke(app, ["score", "-r", "exact_match", "-i", str(source), "-o", str(target),
                                   "--on-bad-line", "skip", "--backend", backend])
        assert done.exit_code == 0, done.output
        outputs[backend] = target.read_bytes()
    assert outputs["ray"] == outputs["local"]
    rows = [orjson.loads(line) for line in outputs["local"].splitlines()]
    assert [r["status"] for r in rows] == ["ok", "error", "error", "error", "ok", "error"]
    assert [r["info"].get("input_line") for r in rows if r["status"] == "error"] == [3, 4, 5, 8]


def test_cli_ray_backend_refuses_an_unknown_reward_before_starting(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "a"}])
    done = runner.invoke(app, ["score", "-r", "no_such_reward", "-i", str(source), "-o", "-", "--backend", "ray"])
    assert done.exit_code == 2 and "no_such_reward" in done.output
    done = runner.invoke(app, ["score", "-r", "exact_match", "-i", str(source), "-o", "-", "--backend", "spark"])
    assert done.exit_code == 2 and "--backend must be local or ray" in done.output
    done = runner.invoke(app, ["score", "-r", "rf_test_rewards:rank_in_batch", "-i", str(source), "-o", "-",
                               "--backend", "ray"])
    assert done.exit_code == 2 and "batch-relative" in done.output


def readme_ray_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Scoring on Ray\n", 1)[1].split("\n## ", 1)[0]
    return [(lang, code) for lang, code in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)
            if lang in ("bash", "python")]


def test_readme_ray_snippets_run(local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = readme_ray_blocks()
    assert [lang for lang, _ in blocks] == ["bash", "python"]
    monkeypatch.chdir(tmp_path)
    items = [{"id": i, "completion": f"so \\boxed{{{i}}}", "answer": str(i if i % 3 else i + 1)} for i in range(30)]
    pq.write_table(pa.Table.from_pylist(items), tmp_path / "rollouts.parquet")
    expected = rf.score("math_equivalence", [{"completion": i["completion"], "reference": i["answer"]} for i in items])

    [command] = [line for line in blocks[0][1].replace("\\\n", " ").splitlines() if line.startswith("rewardforge ")]
    done = runner.invoke(app, shlex.split(command)[1:])
    assert done.exit_code == 0, done.output
    rows = [orjson.loads(line) for line in (tmp_path / "scored.jsonl").read_bytes().splitlines()]
    assert [(r["id"], r["reward"], r["status"]) for r in rows] == [
        (i["id"], s.value, s.status) for i, s in zip(items, expected, strict=True)]

    # Ray's workers started in this test's first directory: give Ray's own readers absolute paths
    code = blocks[1][1].replace('"rollouts.parquet"', repr(str(tmp_path / "rollouts.parquet")))
    code = code.replace('"scored"', repr(str(tmp_path / "scored")))
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_snippet"})
    scored = pq.read_table(tmp_path / "scored").to_pylist()
    assert sorted((r["id"], r["reward"]) for r in scored) == [(i["id"], s.value) for i, s in zip(items, expected,
                                                                                               strict=True)]
