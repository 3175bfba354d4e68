"""Message templates: layered look-up, `default:` extension, the sandbox and its limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongdan.templating import MessageTemplates, TemplateProblem, builtin_templates

TICKET = {"number": "WX-20261125-0001", "title": "注塑机停机", "tier": "P0", "state": "已派单",
          "respond_by": "2026-11-25 10:30"}


def test_builtins_render_in_chinese_first() -> None:
    t = MessageTemplates()
    assert {"派单通知", "超时升级", "SLA预警", "滞留告警", "状态变化", "满意度调研"} <= set(builtin_templates())
    m = t.render("派单通知", {"ticket": TICKET, "link": "https://gd.example.com/t/1"})
    assert m.subject == "【P0】新工单 WX-20261125-0001"
    assert m.text.splitlines()[0] == "【P0】新工单 WX-20261125-0001：注塑机停机"
    assert "please claim it before 2026-11-25 10:30" in m.text and not m.markdown
    assert m.text.splitlines()[-1] == "https://gd.example.com/t/1"


def test_lookup_order_override_dir_then_runtime_then_packs_then_builtins(tmp_path: Path) -> None:
    pack = {"派单通知": "pack {{ ticket.number }}", "包专用": "only in the pack"}
    t = MessageTemplates(runtime={"状态变化": "admin {{ to_state }}"}, packs=[pack])
    assert t.render("派单通知", {"ticket": TICKET}).text == "pack WX-20261125-0001"
    assert t.render("状态变化", {"ticket": TICKET, "from_state": "a", "to_state": "b"}).text == "admin b"
    assert t.render("包专用", {}).text == "only in the pack"
    (tmp_path / "派单通知.j2").write_text("deployment {{ ticket.tier }}", encoding="utf-8")
    t2 = MessageTemplates(override_dir=tmp_path, packs=[pack])
    assert t2.render("派单通知", {"ticket": TICKET}).text == "deployment P0"
    assert "包专用" in t2.names() and "派单通知" in t2.names()


def test_default_prefix_extends_the_next_layer() -> None:
    base = {"通知": "{% block head %}默认标题{% endblock %}\n正文 {{ n }}"}
    override = {"通知": '{% extends "default:通知" %}{% block head %}【加急】{% endblock %}'}
    t = MessageTemplates(runtime=override, packs=[base], builtins={})
    assert t.render("通知", {"n": 1}).text == "【加急】正文 1"  # trim_blocks drops the newline after a block tag


def test_subject_and_markdown_are_set_by_the_template() -> None:
    t = MessageTemplates(runtime={"m": '{% set subject = "主题 " ~ n %}{% set markdown = true %}**粗体** {{ n }}'},
                         builtins={})
    m = t.render("m", {"n": 7})
    assert (m.subject, m.text, m.markdown) == ("主题 7", "**粗体** 7", True)


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("{{ ticket.__class__.__mro__ }}", "unsafe"),
        ("{{ ''.__class__.__subclasses__() }}", "unsafe"),
        ("{% for i in range(10**9) %}x{% endfor %}", "rendering failed"),
        ("{{ 'x' * 100000 }}", "too long"),
        ("{{ nope }}", "not given"),
        ("{{ 1 / 0 }}", "rendering failed"),
        ("{{ 9 ** 9999999 }}", "a power too large"),  # would stall the worker, not only fail
        ("{{ (9 ** 64) ** 64 ** 2 }}", "a power too large"),
        ("{{ 'x' * 10 ** 9 }}", "too long a repeated text"),
        ("{{ [1, 2] * 10 ** 8 }}", "too long a repeated text"),
    ],
)
def test_sandbox_refuses_and_reports(source: str, needle: str) -> None:
    t = MessageTemplates(runtime={"bad": source}, builtins={})
    with pytest.raises(TemplateProblem) as info:
        t.render("bad", {"ticket": TICKET})
    assert needle in str(info.value) and info.value.message_zh


def test_check_before_saving_gives_the_line() -> None:
    t = MessageTemplates(builtins={})
    assert t.check("好 {{ x }}") == []
    (problem,) = t.check("第一行\n{% if x %}没有结束")
    assert problem.line == 2 and "语法错误" in problem.message_zh
    assert t.check("x" * 70000)[0].message_en.startswith("template too large")


def test_unknown_template_and_path_tricks(tmp_path: Path) -> None:
    t = MessageTemplates(override_dir=tmp_path, builtins={})
    with pytest.raises(TemplateProblem) as info:
        t.render("不存在", {})
    assert "找不到消息模板" in info.value.message_zh
    (tmp_path.parent / "secret.j2").write_text("secret", encoding="utf-8")
    with pytest.raises(TemplateProblem):
        t.render("../secret", {})


def test_an_override_extends_a_builtin_block_and_includes_a_whole_one(tmp_path: Path) -> None:
    ctx = {"ticket": TICKET, "link": "https://gd.example.com/t/1", "engineer": None}
    (tmp_path / "超时升级.j2").write_text(
        '{% extends "default:超时升级" %}{% block en %}{% endblock %}'
        '{% block zh %}【请主管处理】{{ super() }}{% endblock %}', encoding="utf-8")
    (tmp_path / "派单通知.j2").write_text('【抢单】{% include "default:派单通知" %}', encoding="utf-8")
    t = MessageTemplates(override_dir=tmp_path)
    m = t.render("超时升级", ctx)
    assert m.text.startswith("【请主管处理】工单 WX-20261125-0001（P0）超时未处理")
    assert "escalated" not in m.text and m.text.endswith("https://gd.example.com/t/1")
    assert m.subject == "升级：工单 WX-20261125-0001 需要处理"  # the original's subject
    assert t.render("派单通知", ctx).text.startswith("【抢单】【P0】新工单")


def test_an_edited_override_file_takes_effect_at_the_next_render(tmp_path: Path) -> None:
    t = MessageTemplates(override_dir=tmp_path, builtins={"m": "built-in"})
    assert t.render("m", {}).text == "built-in"
    (tmp_path / "m.j2").write_text("first", encoding="utf-8")
    assert t.render("m", {}).text == "first"
    (tmp_path / "m.j2").write_text("second, longer", encoding="utf-8")
    assert t.render("m", {}).text == "second, longer"
    (tmp_path / "m.j2").unlink()
    assert t.render("m", {}).text == "built-in"


def test_a_template_that_includes_itself_or_a_missing_one_is_a_problem() -> None:
    t = MessageTemplates(runtime={"loop": '{% include "loop" %}', "gone": '{% include "nope" %}'},
                         builtins={})
    with pytest.raises(TemplateProblem) as info:
        t.render("loop", {})
    assert info.value.message_en and info.value.message_zh
    with pytest.raises(TemplateProblem) as info:
        t.render("gone", {})
    assert "'nope'" in info.value.message_en and "nope" in info.value.message_zh
