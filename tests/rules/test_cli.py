"""`gongdan rules check` and `gongdan rules explain`, through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gongdan.cli import main

from rules.kit import EXAMPLES, FORMS

GONGDAN = shutil.which("gongdan") or str(Path(sys.executable).with_name("gongdan"))


def test_check_examples_through_the_console_script() -> None:
    files = [str(EXAMPLES / f"{x}.rules") for x in ("repair", "aftersales", "production")]
    proc = subprocess.run([GONGDAN, "rules", "check", *files], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("通过 OK") == 3


def test_check_with_schema_reports_every_error_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text('ruleset "x" for line repair\nsla P0:\n    when faultcode == "1"\n    respond 1h\n    resolve 1h\n'
                   'sla P1:\n    when description has any ["a"\n    respond 1h\n    resolve 1h\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(bad), "--schema", str(FORMS / "repair.json")])
    assert result.exit_code == 1
    assert "E200" in result.output and "did you mean `fault_code`?" in result.output
    assert "E014" in result.output  # the unclosed `[`
    assert "失败 FAILED" in result.output


def test_check_json_format(tmp_path: Path) -> None:
    good = tmp_path / "good.rules"
    good.write_text('ruleset "x" for line t\nsla P0:\n    when description has "停机"\n    respond 1h\n    resolve 1h\n',
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(good), "--format", "json"])
    assert result.exit_code == 0
    (entry,) = json.loads(result.output)
    assert entry["ok"] is True and entry["ruleset"] == "x" and entry["line"] == "t"
    assert [d["code"] for d in entry["diagnostics"]] == ["W111"]


def test_check_channels_and_states(tmp_path: Path) -> None:
    f = tmp_path / "c.rules"
    f.write_text('ruleset "x" for line t\non scan_checkin: 已派单 -> 已到 then notify assignee via wechat\n',
                 encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(f), "--channels", "sms,wecom", "--states", "已派单,已到达"])
    assert result.exit_code == 1
    assert "E130" in result.output and "E132" in result.output


def test_check_bad_schema_file(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text("[1, 2", encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "check", str(EXAMPLES / "repair.rules"), "--schema", str(f)])
    assert result.exit_code == 2 and "JSON Schema" in result.output


def test_explain_prints_generated_python() -> None:
    result = CliRunner().invoke(main, ["rules", "explain", str(EXAMPLES / "repair.rules")])
    assert result.exit_code == 0
    assert "def classify(t, now):" in result.output and "def route_0(t, es, sla, now):" in result.output
    compile(result.output, "explained", "exec")  # it is valid Python


@pytest.mark.parametrize("args", [["rules", "explain"], ["rules", "check"]])
def test_missing_file_argument(args: list[str]) -> None:
    assert CliRunner().invoke(main, args).exit_code == 2


def test_explain_refuses_a_broken_file(tmp_path: Path) -> None:
    f = tmp_path / "b.rules"
    f.write_text("sla", encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "explain", str(f)])
    assert result.exit_code == 1 and "E1" in result.output + (result.stderr if result.stderr_bytes else "")
