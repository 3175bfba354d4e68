"""Every diagnostic: its code, position, both languages and suggestion (parametrised)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gongdan_rules import CODES, Diagnostic, RulesError, compile_ruleset

from rules.kit import HEADER, rules

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "fault_code": {"type": "string"},
        "description": {"type": "string"},
        "defect_rate": {"type": "number"},
        "service_type": {"type": "string", "enum": ["上门", "电话"]},
        "onsite": {"type": "boolean"},
        "required_skill": {"type": "string"},
    },
}
OTHERWISE = "sla P9:\n    otherwise\n    respond 1h\n    resolve 2h\n"


def tier(when: str, name: str = "P0") -> str:
    return f"sla {name}:\n    when {when}\n    respond 1h\n    resolve 2h\n"


def errors_of(src: str, **kw: Any) -> list[Diagnostic]:
    kw.setdefault("schema", SCHEMA)
    kw.setdefault("channels", {"sms", "wecom"})
    with pytest.raises(RulesError) as info:
        compile_ruleset(src, **kw)
    return info.value.diagnostics


def warnings_of(src: str, **kw: Any) -> list[Diagnostic]:
    kw.setdefault("schema", SCHEMA)
    return compile_ruleset(src, **kw).diagnostics


# (source without header, code, line, column) — lines count the header as line 1.
ERROR_CASES = [
    ("E001", tier("description == == 1"), 3, 25),
    ("E002", tier('description has "a" ;'), 3, 30),
    ("E003", "sla P0:\n    when description has", 3, 25),
    ("E004", 'sla P0:\n    when description has "a"\n  respond 1h\n    resolve 2h\n', 4, 1),
    ("E005", 'sla P0:\n    when description has "abc\n    respond 1h\n    resolve 2h\n', 3, 26),
    ("E008", 'sla P0\n    when description has "a"\n    respond 1h\n    resolve 2h\n', 2, 7),
    ("E009", tier(r'description has "a\qb"'), 3, 28),
    ("E010", "    sla P0:\n", 2, 1),
    ("E011", "sla P0:\n    when description matches /abc\n    respond 1h\n    resolve 2h\n", 3, 30),
    ("E013", tier("description has and"), 3, 26),
    ("E014", tier('(description has "a" or fault_code == "b"'), 3, 10),
    ("E101", 'ruleset "b" for line b\n', 2, 1),
    ("E110", OTHERWISE.replace("P9", "P0") + tier('description has "x"', "P0"), 6, 5),
    ("E111", OTHERWISE + tier('description has "x"', "P3"), 6, 5),
    ("E112", "sla P0:\n    otherwise\n    respond 1h\n", 2, 5),
    ("E113", "sla P0:\n    otherwise\n    respond 1h\n    respond 2h\n    resolve 2h\n", 5, 5),
    ("E114", "sla P0:\n    respond 1h\n    resolve 2h\n", 2, 5),
    ("E115", 'sla P0:\n    when description has "x"\n    otherwise\n    respond 1h\n    resolve 2h\n', 4, 5),
    ("E116", "sla P0:\n    otherwise\n    respond 0m\n    resolve 2h\n", 4, 5),
    ("E120", 'route "r":\n    score 1\n', 2, 7),
    ("E121", 'route "r":\n    score 1\n    offer top 1\nroute "r":\n    score 1\n    offer top 1\n', 5, 7),
    ("E122", 'route "r":\n    score 1\n    offer top 0\n', 4, 15),
    ("E130", "on scan_checkin: a -> b then notify assignee via wechat\n", 2, 50),
    ("E131", "dwell a > 1h: escalate boss\n", 2, 24),
    ("E140", "dwell a > 1h: repeat every 1h\n", 2, 1),
    ("E141", "dwell a > 1h: escalate supervisor, repeat every 1h, repeat every 2h\n", 2, 53),
    ("E150", "close requires:\n    stage a: true\n    stage a: false\n", 4, 5),
    ("E151", "close requires:\n    stage a: true\nclose requires:\n    stage b: true\n", 4, 1),
    ("E160", tier('description has "停机"') + OTHERWISE + 'example "e":\n    given description = "x"\n'
     "    expect tier P0\n", 12, 5),
    ("E161", OTHERWISE + 'example "e":\n    given description = "x"\n', 6, 1),
    ("E163", OTHERWISE + 'example "e":\n    expect tier P9\n    expect tier P9\n', 8, 5),
    ("E164", OTHERWISE + 'close requires:\n    stage a: true\nexample "e":\n    expect close fails b\n', 9, 5),
    ("E200", tier('faultcode == "E-1"'), 3, 10),
    ("E201", tier("engineer.load > 1"), 3, 10),
    ("E202", tier("description == 2h"), 3, 10),
    ("E203", 'route "r":\n    score 1 + "a"\n    offer top 1\n', 3, 11),
    ("E204", tier("defect_rate"), 3, 10),
    ("E205", 'route "r":\n    score "abc"\n    offer top 1\n', 3, 11),
    ("E206", tier("cout(attachments) > 1"), 3, 10),
    ("E207", tier("count(attachments, 1) > 1"), 3, 10),
    ("E208", tier("description matches /(abc/"), 3, 10),
    ("E209", OTHERWISE + 'route "r":\n    score 1\n    offer top 2 if sla == P7 else top 1\n', 8, 27),
    ("E210", tier('description["x"] == "y"'), 3, 10),
    ("E211", tier("__class__ == 1"), 3, 10),
    ("E212", tier("count(description where x == 1) > 1"), 3, 16),
    ("E213", tier('defect_rate has "1"'), 3, 10),
    ("E214", tier('description has any "x"'), 3, 30),
    ("E215", tier("description.length > 1"), 3, 10),
]


@pytest.mark.parametrize(("code", "body", "line", "column"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error(code: str, body: str, line: int, column: int) -> None:
    diags = errors_of(HEADER + body)
    found = [d for d in diags if d.code == code]
    assert found, f"expected {code}, got {[str(d) for d in diags]}"
    d = found[0]
    assert (d.line, d.column) == (line, column), str(d)
    assert d.severity == "error" and d.message_zh and d.message_en
    assert d.end_column > d.column or d.end_line > d.line


def test_e006_nesting_too_deep() -> None:
    deep = "(" * 70 + "defect_rate" + " + 1)" * 70 + " > 1"
    (d,) = [d for d in errors_of(HEADER + tier(deep)) if d.code == "E006"]
    assert d.line == 3


def test_e007_file_too_large() -> None:
    big = HEADER + "# " + "x" * (4 * 1024 * 1024) + "\n"
    assert [d.code for d in errors_of(big)] == ["E007"]


def test_e012_too_many_errors_stops() -> None:
    src = HEADER + "".join(f"sla P{i}\n" for i in range(200))
    diags = errors_of(src)
    assert diags[-1].code == "E012" and len(diags) <= 102


def test_e100_missing_header() -> None:
    (d,) = errors_of(OTHERWISE)
    assert (d.code, d.line, d.column) == ("E100", 1, 1)
    (d,) = errors_of(OTHERWISE + HEADER)
    assert (d.code, d.line) == ("E100", 1)


def test_e132_unknown_state_with_suggestion() -> None:
    diags = errors_of(HEADER + "on scan_checkin: 已派单 -> 已到 \n", states=["已派单", "已到达"])
    (d,) = diags
    assert d.code == "E132" and (d.line, d.column) == (2, 25)
    assert d.suggestion is not None and "已到达" in d.suggestion


def test_e162_example_runtime_error_is_reported() -> None:
    src = HEADER + 'sla P0:\n    when defect_rate > 1\n    respond 1h\n    resolve 2h\n' + OTHERWISE + (
        'example "e":\n    given defect_rate = "abc"\n    expect tier P0\n')
    (d,) = errors_of(src, schema=None)
    assert d.code == "E162" and d.line == 12


# ------------------------------------------------------------------------------ warnings

def test_w110_keyword_in_two_tiers_names_both_and_the_winner() -> None:
    src = HEADER + tier('description has any ["停机", "冒烟"]', "P0") + tier(
        'description has any ["异响", "停机"]', "P2") + OTHERWISE
    (w,) = warnings_of(src)
    assert w.code == "W110" and w.severity == "warning"
    assert (w.line, w.column) == (7, 37)
    assert "P0" in w.message_zh and "P2" in w.message_zh and "停机" in w.message_en
    assert "P0 comes first and wins" in w.message_en


def test_w110_also_for_regex_alternatives_and_in_lists() -> None:
    src = HEADER + tier("description matches /(异响|噪音)/", "P1") + tier('description has "噪音"', "P2") + (
        tier('fault_code in ["E-1", "E-2"]', "P3") + tier('fault_code == "E-2"', "P4") + OTHERWISE)
    codes = [(w.code, w.line) for w in warnings_of(src)]
    assert codes == [("W110", 7), ("W110", 15)]


def test_w112_keyword_containing_an_earlier_one() -> None:
    src = HEADER + tier('description has any ["冷却"]', "P0") + tier('description has "冷却液泄漏"', "P1") + OTHERWISE
    (w,) = warnings_of(src)
    assert w.code == "W112" and w.line == 7 and "P0" in w.message_zh


def test_w113_days_on_a_business_calendar_are_working_hours() -> None:
    src = HEADER + 'sla P0:\n    otherwise\n    respond 8h\n    resolve 1d on calendar "工作日"\n'
    (w,) = warnings_of(src)
    assert (w.code, w.line) == ("W113", 5)
    assert "24 working hours" in w.message_en and "3 working days" in w.message_en and "8h" in w.message_zh
    assert warnings_of(HEADER + 'sla P0:\n    otherwise\n    respond 1h\n    resolve 8h on calendar "工作日"\n') == []
    assert warnings_of(HEADER + "sla P0:\n    otherwise\n    respond 1h\n    resolve 3d\n") == []  # 24x7
    # hours say what they mean, however many
    assert warnings_of(HEADER + 'sla P0:\n    otherwise\n    respond 1h\n    resolve 24h on calendar "工作日"\n') == []


def test_w111_no_otherwise() -> None:
    (w,) = warnings_of(HEADER + tier('description has "x"'))
    assert (w.code, w.line) == ("W111", 2)


def test_w120_pool_after_catch_all() -> None:
    src = HEADER + 'route "a":\n    score 1\n    offer top 1\nroute "b":\n    when onsite\n    score 1\n    offer top 1\n'
    (w,) = warnings_of(src)
    assert (w.code, w.line) == ("W120", 5)


def test_w130_unknown_event_type_with_suggestion() -> None:
    (w,) = warnings_of(HEADER + "on scan_checkn: a -> b\n", events=set())
    assert w.code == "W130" and w.suggestion is not None and "scan_checkin" in w.suggestion


def test_w131_duplicate_trigger() -> None:
    (w,) = warnings_of(HEADER + "on scan_checkin: a -> b\non scan_checkin: a -> c\n")
    assert (w.code, w.line) == ("W131", 3)


def test_w200_skill_fit_without_required_skill() -> None:
    schema = {"type": "object", "properties": {"description": {"type": "string"}}}
    (w,) = warnings_of(HEADER + 'route "r":\n    score skill_fit\n    offer top 1\n', schema=schema)
    assert w.code == "W200"


def test_w201_value_not_among_options() -> None:
    (w,) = warnings_of(HEADER + tier('service_type == "上门服务"') + OTHERWISE)
    assert w.code == "W201" and "上门" in w.message_zh


# ------------------------------------------------------------------------------ recovery

def test_several_syntax_errors_in_one_run_with_name_errors_too() -> None:
    src = HEADER + (
        'sla P0:\n    when description has "停机" and\n    respond 1h\n    resolve 2h\n'  # 2-5
        'route "x":\n    score 1 +* 2\n    offer top 1\n'  # 6-8
        "on scan_checkin: a -> \n"  # 9
        + tier('faultcode == "x"', "P1")  # 10-13
        + OTHERWISE
    )
    diags = errors_of(src)
    assert [(d.code, d.line) for d in diags] == [("E001", 4), ("E001", 5), ("E001", 7), ("E001", 9), ("E200", 11)]
    assert diags[0].suggestion is not None and "第 3 行以 `and` 结尾" in diags[0].suggestion


def test_an_unclosed_bracket_is_one_error_at_the_bracket_and_recovery_goes_on() -> None:
    src = HEADER + (
        'sla P0:\n    when (description has "停机"\n    respond 30m\n    resolve 4h\n'  # 2-5
        + OTHERWISE  # 6-9
        + 'route "r":\n    require engineer.load < engineer.max_load\n    score skill_fit\n    offer top 1\n'
        "on scan_checkin: 已派单 -> 已到达\n"  # 14
    )
    diags = errors_of(src)
    assert [(d.code, d.line, d.column) for d in diags] == [("E014", 3, 10)]
    d = diags[0]
    assert d.suggestion == "在第 3 行末尾补上 `)` / close it with `)` at the end of line 3"
    assert "`(`" in d.message_zh and "`(`" in d.message_en


def test_after_an_unclosed_bracket_only_the_real_errors_follow() -> None:
    src = HEADER + (
        'sla P0:\n    when description has any ["停机", "冒烟"\n    respond 30m\n    resolve 4h\n'  # 2-5
        'route "r":\n    require (engineer.load < engineer.max_load   # 负载\n'  # 6-7
        "    score skill_fit +\n    offer top 1\n"  # 8-9: a real error
        'on photo(kind = "铭牌": 已到达 -> 诊断中\n'  # 10
        "on scan_checkin: 已派单 -> 已到达\n"  # 11: fine
        'dwell 维修中 > 72h: escalate role "x", repeat every\n'  # 12: a real error
        + tier('faultcode == "x"', "P1")  # 13-16: a name error, still found
        + OTHERWISE
    )
    diags = errors_of(src)
    assert [(d.code, d.line) for d in diags] == [
        ("E014", 3), ("E014", 7), ("E001", 9), ("E014", 10), ("E001", 12), ("E200", 14)]
    assert diags[0].suggestion is not None and "`]`" in diags[0].suggestion
    assert diags[1].suggestion is not None and "line 7" in diags[1].suggestion  # before the comment


def test_a_bracket_spanning_lines_is_not_unclosed() -> None:
    src = HEADER + ('sla P0:\n    when description has any [\n        "停机",\n        "冒烟"\n    ] or (\n'
                    '        fault_code == "E-1"\n    )\n    respond 1h\n    resolve 2h\n'
                    "sla P1:\n    when description has == 1\n    respond 1h\n    resolve 2h\n" + OTHERWISE)
    assert [d.code for d in errors_of(src)] == ["E001"]


def test_suggestion_for_misspelt_field() -> None:
    (d,) = errors_of(HEADER + tier('faultcode == "E-1"') + OTHERWISE)
    assert d.suggestion is not None and "`fault_code`" in d.suggestion


def test_unknown_channel_lists_installed() -> None:
    (d,) = errors_of(HEADER + "on scan_checkin: a -> b then notify assignee via wechat\n",
                     channels={"sms", "wecom", "dingtalk"})
    assert "dingtalk, sms, wecom" in d.message_en and "已安装" in d.message_zh


def test_diagnostic_str_shows_source_line_and_caret() -> None:
    (d,) = errors_of(HEADER + tier('faultcode == "E-1"') + OTHERWISE, filename="repair.rules")
    text = str(d)
    lines = text.splitlines()
    assert lines[0].startswith("repair.rules:3:10: error E200: 未知字段 faultcode / unknown field faultcode")
    assert lines[1] == '        when faultcode == "E-1"'
    assert lines[2] == "             ^^^^^^^^^"
    assert lines[3].startswith("  建议 / suggestion:")


def test_caret_counts_wide_characters_as_two_cells() -> None:
    (d,) = errors_of(HEADER + tier('description has "停机" ; x'))
    _src_line, caret = str(d).splitlines()[1:3]
    assert caret.index("^") == len("    ") + len("    when description has ") + 4 + 3


def test_diagnostic_to_dict() -> None:
    (d,) = errors_of(HEADER + tier('faultcode == "E-1"') + OTHERWISE)
    assert d.to_dict() == {
        "code": "E200", "severity": "error", "message_zh": "未知字段 faultcode", "message_en": "unknown field faultcode",
        "filename": "<rules>", "line": 3, "column": 10, "end_line": 3, "end_column": 19,
        "suggestion": "你是想写 `fault_code` 吗？/ did you mean `fault_code`?",
    }


def test_rules_error_str_lists_every_diagnostic() -> None:
    with pytest.raises(RulesError) as info:
        compile_ruleset(HEADER + tier("x ) 1") + tier("y ) 2"))
    assert str(info.value).count("error E0") == 2
    assert len(info.value.errors) == 2


# ------------------------------------------------------------------------------ catalogue

def test_every_code_is_exercised_by_a_test() -> None:
    text = Path(__file__).read_text(encoding="utf-8")
    missing = [c for c in CODES if f'"{c}"' not in text]
    assert missing == []


def test_every_code_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    missing = [c for c in CODES if not re.search(rf"\b{c}\b", docs)]
    assert missing == []


def test_catalogue_is_bilingual() -> None:
    for code, (severity, zh, en) in CODES.items():
        assert severity == ("error" if code.startswith("E") else "warning")
        assert re.search(r"[\u4e00-\u9fff]", zh), code
        assert not re.search(r"[\u4e00-\u9fff]", en), code


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")


def _own_cjk(message: str, source: str) -> list[str]:
    """CJK text in `message` that is not quoted from the rules' source (names, keywords)."""
    return [m for m in CJK.findall(message) if m not in source]


@pytest.mark.parametrize(("code", "body", "line", "column"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_english_messages_are_english_and_chinese_ones_chinese(code: str, body: str, line: int, column: int) -> None:
    src = HEADER + body
    for d in errors_of(src):
        assert _own_cjk(d.message_en, src) == [], (d.code, d.message_en)
        assert CJK.search(d.message_zh), (d.code, d.message_zh)


@pytest.mark.parametrize("src", [
    HEADER + "sla P0:\n    when description has\n",  # E003 with its expected tokens
    HEADER + tier("description == == 1"),
    HEADER + "on x: a ->\n",
    HEADER + 'route "r":\n    score 1 + "a"\n    offer top 1\n',
    HEADER + tier("description == 2h"),
    HEADER + tier('count(attachments where kind > 1) == "x"'),
    HEADER + 'example "e":\n    given x = count(y)\n    expect tier P0\n',
    HEADER + OTHERWISE + 'close requires:\n    stage a: 1 / 0 > 1\n'
    'example "e":\n    given x = 1\n    expect close ok\n',
])
def test_syntax_and_type_messages_carry_no_chinese_in_english(src: str) -> None:
    try:
        diags = compile_ruleset(src, schema=SCHEMA).diagnostics
    except RulesError as exc:
        diags = exc.diagnostics
    assert diags
    for d in diags:
        assert _own_cjk(d.message_en, src) == [], (d.code, d.message_en)


def test_snippet_helper_compiles() -> None:
    assert rules(OTHERWISE).classify({}).tier == "P9"  # type: ignore[union-attr]
