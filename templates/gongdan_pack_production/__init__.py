"""生产工序 (production) template pack: process tickets on an auto-parts line in Suzhou.

Rules from the contract's ``shared/dsl-examples/production.rules`` plus an inspection
event, message templates and examples; registered by entry point
(``pack_production = "gongdan_pack_production"``).
"""

from __future__ import annotations

import random
from importlib import resources
from typing import Any

from gongdan.hookspecs import EventType, hookimpl
from gongdan.packs import DemoData, DemoSpec, District, Fault, TemplatePack, generate_demo

NAME = "production"
STEPS = ["冲压", "焊接", "涂装", "总装", "机加工", "检测"]

FIELDS: list[dict[str, Any]] = [
    {"key": "production_line", "label": "产线 Production line", "type": "select", "required": True,
     "options": ["冲压A线", "焊装1线", "焊装2线", "涂装线", "总装线", "机加线"]},
    {"key": "process_step", "label": "工序 Process step", "type": "select", "required": True, "options": STEPS},
    {"key": "required_skill", "label": "所需技能 Required skill", "type": "select", "required": False,
     "options": STEPS},
    {"key": "line_stopped", "label": "是否停线 Line stopped", "type": "bool", "required": True},
    {"key": "defect_rate", "label": "不良率 Defect rate", "type": "number", "required": False,
     "help": "0~1 的小数，如 0.03 表示 3% / a fraction: 0.03 is 3%"},
    {"key": "part_no", "label": "零件号 Part number", "type": "text", "required": False},
    {"key": "batch_no", "label": "批次号 Batch", "type": "text", "required": False},
    {"key": "shift_team", "label": "班组 Shift team", "type": "select", "required": False,
     "options": ["甲班", "乙班", "丙班"]},
    {"key": "verification_report", "label": "验证报告 Verification report", "type": "attachment", "required": False},
]
STATES: dict[str, Any] = {
    "initial": "新建",
    "states": [
        {"key": "新建", "label": "新建 New", "category": "open"},
        {"key": "已派单", "label": "已派单 Dispatched", "category": "open"},
        {"key": "处理中", "label": "处理中 In progress", "category": "open"},
        {"key": "待审批", "label": "待审批 Awaiting approval", "category": "pending"},
        {"key": "执行中", "label": "执行中 Executing change", "category": "open"},
        {"key": "待验证", "label": "待验证 Verifying", "category": "pending"},
        {"key": "已关闭", "label": "已关闭 Closed", "category": "closed"},
    ],
    "transitions": [
        ["新建", "已派单"], ["已派单", "处理中"], ["处理中", "待审批"], ["待审批", "执行中"], ["处理中", "执行中"],
        ["执行中", "待验证"], ["待验证", "执行中"], ["待验证", "已关闭"], ["处理中", "已关闭"],
    ],
}
EVENT_TYPES = (
    EventType(name="inspection_recorded", title="检验结果已录入 / inspection recorded",
              schema={"type": "object", "properties": {"result": {"type": "string", "enum": ["合格", "不合格"]},
                                                       "inspector": {"type": "string"},
                                                       "sample_size": {"type": "integer"}}}),
)
MESSAGE_TEMPLATES = {
    "派单通知": "【工序工单 {{ ticket.number }}】{{ ticket.production_line }}／{{ ticket.process_step }}："
                "{{ ticket.title }}{{ '（已停线）' if ticket.line_stopped else '' }}\n接单：{{ link }}",
    "工艺变更通知": "工艺变更已审批通过：工单 {{ ticket.number }}（{{ ticket.process_step }}），请班组长安排执行。",
    "超时升级": "【超时】工单 {{ ticket.number }} 待审批超过 8 小时，请生产经理跟进。",
    "工序复盘": "工单 {{ ticket.number }} 已关闭 7 天，请填写工序复盘：{{ link }}",
}
REPORT_PRESETS = [
    {"name": "stoppage_by_line", "title": "停线次数按产线 / line stoppages by line",
     "metric": "stoppage_count", "group_by": ["production_line"], "period": "week"},
    {"name": "rework_top10_by_step", "title": "返工 Top10 按工序 / rework top 10 by process step",
     "metric": "rework_count", "group_by": ["process_step"], "period": "month", "limit": 10},
    {"name": "dispatch_health_daily", "title": "派单健康日报 / daily dispatch health",
     "metric": ["first_response_timeout_rate", "team_transfers", "skill_match_rate"], "group_by": [],
     "period": "day"},
]
FIELD_DICTIONARY = {
    "工位": "process_step", "工序名称": "process_step", "产线名称": "production_line", "停线": "line_stopped",
    "不良率": "defect_rate", "料号": "part_no", "批号": "batch_no", "联系电话": "customer_phone",
}
SUZHOU = [
    District("320505", "虎丘区", 31.2953, 120.5663), District("320506", "吴中区", 31.2623, 120.6321),
    District("320507", "相城区", 31.3691, 120.6422), District("320508", "姑苏区", 31.3114, 120.6176),
    District("320509", "吴江区", 31.1383, 120.6451),
]
FAULTS = [
    Fault("2号焊装线停线，机器人焊枪报警", "P-W01", "停线", {"production_line": "焊装2线", "process_step": "焊接",
                                                       "line_stopped": True}),
    Fault("焊点虚焊增多，抽检不合格", "Q-W12", "质量异常", {"production_line": "焊装1线", "process_step": "焊接",
                                                   "line_stopped": False}),
    Fault("涂装面漆橘皮，色差超标", "Q-P07", "质量异常", {"production_line": "涂装线", "process_step": "涂装",
                                                 "line_stopped": False}),
    Fault("冲压件毛刺超差，模具需修磨", "Q-S03", "质量异常", {"production_line": "冲压A线", "process_step": "冲压",
                                                   "line_stopped": False}),
    Fault("总装拧紧扭矩偏差，需要调整工艺参数", "Q-A21", "工艺变更",
          {"production_line": "总装线", "process_step": "总装", "line_stopped": False}),
    Fault("机加线刀具寿命异常缩短", "Q-M05", "设备工艺", {"production_line": "机加线", "process_step": "机加工",
                                                 "line_stopped": False}),
    Fault("检测工位三坐标测量数据漂移", "Q-I02", "质量异常", {"production_line": "总装线", "process_step": "检测",
                                                   "line_stopped": False}),
    Fault("涂装线输送链卡滞停线", "P-P02", "停线", {"production_line": "涂装线", "process_step": "涂装",
                                             "line_stopped": True}),
]


def _engineer_extra(rng: random.Random, eng: dict[str, Any]) -> dict[str, Any]:
    return {"process_steps": sorted(eng["skills"])}


def _ticket_extra(rng: random.Random, ticket: dict[str, Any], fault: Fault) -> dict[str, Any]:
    step = fault.fields["process_step"]
    out: dict[str, Any] = {
        "required_skill": step, "shift_team": rng.choice(["甲班", "乙班", "丙班"]),
        "part_no": f"{rng.choice(['BJ', 'QM', 'DP'])}-{rng.randint(10000, 99999)}",
        "batch_no": f"B{ticket['reported_at'][2:10].replace('-', '')}{rng.randint(1, 9):02d}",
    }
    if fault.category == "质量异常":
        out["defect_rate"] = round(rng.uniform(0.005, 0.06), 4)
    return out


DEMO_SPEC = DemoSpec(
    city="苏州市", districts=SUZHOU, sn_prefix="SZ", models=["焊装机器人 KR210", "冲压机 JH31-250", "涂装机器人 EcoRP",
                                                              "拧紧枪 QST", "三坐标 Global S"],
    customer_names=["焊装车间", "冲压车间", "涂装车间", "总装车间", "机加车间", "质量部"],
    skills=STEPS, teams=["工艺一科", "工艺二科", "质量工程科"], faults=FAULTS,
    engineer_extra=_engineer_extra, ticket_extra=_ticket_extra, vip_share=0.0,
)


def rules_source() -> str:
    """The pack's ruleset source."""
    return resources.files(__name__).joinpath("rules.rules").read_text(encoding="utf-8")


def demo(seed: int = 0, size: str = "small") -> DemoData:
    """Demo workshops, equipment, process engineers and tickets in Suzhou."""
    return generate_demo(NAME, DEMO_SPEC, seed, size)


PACK = TemplatePack(
    name=NAME, version="0.1.0", title="生产工序 / Production process", line_key="production", line_name="生产工序",
    prefix="SC",
    description="汽车零部件产线的停线、质量异常与工艺变更 / line stoppages, quality issues and process changes",
    fields=FIELDS, states=STATES, rules_source=rules_source(), events=EVENT_TYPES,
    field_dictionary=FIELD_DICTIONARY, message_templates=MESSAGE_TEMPLATES, report_presets=REPORT_PRESETS,
    demo=demo,
)


@hookimpl
def register_template_packs() -> list[TemplatePack]:
    return [PACK]


@hookimpl
def register_event_types() -> list[EventType]:
    return list(EVENT_TYPES)
