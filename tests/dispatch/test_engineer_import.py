"""Engineer lists from CSV and Excel: row-level errors in both languages, nothing half-read."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from gongdan.engineer_import import ImportProblem, parse_engineers, read_table

GOOD_CSV = """工号,姓名,技能,负载上限,班组,区域,位置,班次,证书,电话
E001,王强,"PLC调试:4; 液压:3",5,浦东组,310115,"31.2304,121.4737",08:00-18:00,电工证,13800138000
E002,李娜,电气：5、焊接：2,4,闵行组,310112,31.11 121.38,08:00-12:00;13:00-18:00,,
"""


def test_csv_with_chinese_headers_utf8_bom_and_gb18030() -> None:
    for data in (GOOD_CSV.encode("utf-8-sig"), GOOD_CSV.encode("gb18030")):
        result = parse_engineers(read_table(data, "team.csv"), known_regions={"310115", "310112"})
        assert result.ok, result.errors
        a, b = result.engineers
        # no 主管 column: no supervisor key (an update keeps the stored one)
        assert a == {"id": "E001", "name": "王强", "skills": {"PLC调试": 4, "液压": 3}, "max_load": 5, "team": "浦东组",
                     "region": "310115", "location": {"lat": 31.2304, "lon": 121.4737},
                     "shifts": [["08:00", "18:00"]], "certifications": ["电工证"], "phone": "13800138000"}
        assert b["skills"] == {"电气": 5, "焊接": 2} and b["shifts"] == [["08:00", "12:00"], ["13:00", "18:00"]]
        assert "certifications" not in b and "phone" not in b  # blank cells: not given


def test_xlsx_with_english_headers() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["id", "name", "skills", "max_load", "location"])
    ws.append([101, "Zhao", "数控:5", 3, "31.0,121.0"])
    ws.append([None, None, None, None, None])  # blank rows are skipped
    ws.append([102.0, "Qian", "", None, None])
    buf = io.BytesIO()
    wb.save(buf)
    result = parse_engineers(read_table(buf.getvalue(), "list.xlsx"))
    assert result.ok and [e["id"] for e in result.engineers] == ["101", "102"]
    assert result.engineers[1] == {"id": "102", "name": "Qian"}  # blank cells are not given


def test_missing_blank_and_cleared_cells() -> None:
    rows = [["工号", "姓名", "技能", "班组", "位置", "班次", "负载上限"],
            ["E1", "甲", "", "-", "-", "-", ""],
            ["E2", "乙", "-", "二组", "", "", "-"]]
    result = parse_engineers(rows)
    assert not result.ok
    assert [(e.row, e.column) for e in result.errors] == [(3, "max_load")]  # a limit cannot be cleared
    assert "不能清空" in result.errors[0].message_zh and "cannot be cleared" in result.errors[0].message_en
    result = parse_engineers([r[:6] for r in rows])
    assert result.ok, result.errors
    assert result.engineers == [
        {"id": "E1", "name": "甲", "team": None, "location": None, "shifts": []},
        {"id": "E2", "name": "乙", "skills": {}, "team": "二组"}]


def test_every_bad_row_is_reported_and_nothing_is_returned() -> None:
    rows = [
        ["工号", "姓名", "技能", "负载上限", "区域", "位置", "班次", "电话"],
        ["E1", "甲", "PLC调试:9", "5", "310115", "31,121", "08:00-18:00", "13800138000"],
        ["E2", "", "液压:x", "0", "999999", "north", "8点到6点", "12345"],
        ["E1", "丙", "", "", "", "", "", ""],
    ]
    result = parse_engineers(rows, known_regions={"310115"})
    assert not result.ok and result.engineers == []
    got = {(e.row, e.column) for e in result.errors}
    assert got == {(2, "skills"), (3, "name"), (3, "skills"), (3, "max_load"), (3, "region"), (3, "location"),
                   (3, "shift"), (3, "phone"), (4, "id")}
    dup = next(e for e in result.errors if e.row == 4)
    assert "与第 2 行重复" in dup.message_zh and "repeats row 2" in dup.message_en
    assert all(e.message_zh and e.message_en for e in result.errors)
    assert result.errors[0].to_dict().keys() == {"row", "key", "message_zh", "message_en"}


def test_header_problems() -> None:
    result = parse_engineers([["工号", "姓名", "技能等级?"], ["E1", "甲", "x"]])
    assert [(e.row, e.column) for e in result.errors] == [(1, "技能等级?")]
    assert "未知的列" in result.errors[0].message_zh
    missing = parse_engineers([["姓名"], ["甲"]])
    assert [(e.row, e.column) for e in missing.errors] == [(1, "id")]
    dup = parse_engineers([["工号", "id", "姓名"], ["1", "1", "a"]])
    assert "appears twice" in dup.errors[0].message_en
    assert "empty" in parse_engineers([]).errors[0].message_en


@pytest.mark.parametrize(
    ("data", "name", "needle"),
    [(b"x", "a.pdf", ".csv and .xlsx"), (b"not a zip", "a.xlsx", "Excel"), (b"\xff\xfe\xfa" * 3, "a.csv", "encoding")],
)
def test_unreadable_files(data: bytes, name: str, needle: str) -> None:
    with pytest.raises(ImportProblem) as info:
        read_table(data, name)
    assert needle in str(info.value)
