"""家电售后 (after-sales) template pack: home-appliance service calls in Foshan.

Rules from the contract's ``shared/dsl-examples/aftersales.rules`` plus message templates
and examples; registered by entry point (``pack_aftersales = "gongdan_pack_aftersales"``).
"""

from __future__ import annotations

import random
from importlib import resources
from typing import Any

from gongdan.hookspecs import hookimpl
from gongdan.packs import DemoData, DemoSpec, District, Fault, TemplatePack, generate_demo

NAME = "aftersales"
PRODUCT_LINES = ["空调", "冰箱", "洗衣机", "热水器", "燃气灶", "油烟机"]

FIELDS: list[dict[str, Any]] = [
    {"key": "service_type", "label": "服务方式 Service type", "type": "select", "required": True,
     "options": ["上门", "电话指导", "寄修"]},
    {"key": "product_line", "label": "产品线 Product line", "type": "select", "required": True,
     "options": PRODUCT_LINES},
    {"key": "required_skill", "label": "所需技能 Required skill", "type": "select", "required": False,
     "options": PRODUCT_LINES, "help": "默认同产品线 / defaults to the product line"},
    {"key": "model", "label": "型号 Model", "type": "text", "required": False},
    {"key": "purchase_date", "label": "购买日期 Purchase date", "type": "date", "required": False},
    {"key": "in_warranty", "label": "在保 In warranty", "type": "bool", "required": False},
    {"key": "visit_address", "label": "上门地址 Visit address", "type": "text", "required": False,
     "help": "选择上门时必填 / required for on-site visits", "when": {"field": "service_type", "equals": "上门"}},
    {"key": "appointment_at", "label": "预约时间 Appointment", "type": "datetime", "required": False},
    {"key": "invoice", "label": "购机凭证 Invoice", "type": "attachment", "required": False},
]
STATES: dict[str, Any] = {
    "initial": "新建",
    "states": [
        {"key": "新建", "label": "新建 New", "category": "open"},
        {"key": "已派单", "label": "已派单 Dispatched", "category": "open"},
        {"key": "服务中", "label": "服务中 In service", "category": "open"},
        {"key": "诊断中", "label": "诊断中 Diagnosing", "category": "open"},
        {"key": "待配件", "label": "待配件 Waiting for parts", "category": "pending"},
        {"key": "等待客户确认", "label": "等待客户确认 Awaiting customer", "category": "pending"},
        {"key": "已结案", "label": "已结案 Closed", "category": "closed"},
    ],
    "transitions": [
        ["新建", "已派单"], ["已派单", "服务中"], ["服务中", "诊断中"], ["诊断中", "待配件"], ["待配件", "服务中"],
        ["诊断中", "等待客户确认"], ["服务中", "等待客户确认"], ["等待客户确认", "已结案"], ["新建", "已结案"],
        ["已派单", "已结案"], ["服务中", "已结案"], ["诊断中", "已结案"], ["待配件", "已结案"], ["已结案", "服务中"],
    ],
}
MESSAGE_TEMPLATES = {
    "派单通知": "【售后工单 {{ ticket.number }}】{{ ticket.product_line }}：{{ ticket.title }}\n"
                "{{ ticket.service_type }}｜{{ ticket.visit_address or '' }}\n接单：{{ link }}",
    "超时升级": "【超时】售后工单 {{ ticket.number }} 派单后 2 小时仍未上门，请调度主管处理。",
    # goes to the customer (`notify customer`): no link, since `link` is the admin board;
    # sent to staff instead (a rule that notifies someone else), it carries the ticket's link
    "确认提醒": "{% set to = recipient.to if recipient is defined else 'customer' %}"
                "{% set phone = customer.phone if customer is defined and customer else '' %}"
                "{% if to == 'customer' or (phone and to == phone) %}"
                "您好，您的{{ ticket.product_line }}维修已完成（工单 {{ ticket.number }}），请确认服务结果；"
                "如仍有问题，请直接回复本短信或致电客服。（回复 TD 退订）"
                "{% else %}工单 {{ ticket.number }} 等待客户确认服务结果：{{ link }}{% endif %}",
    "售后满意度": "感谢您选择我们的服务！工单 {{ ticket.number }} 已完成，邀请您评价本次服务：{{ link }}",
}
REPORT_PRESETS = [
    {"name": "first_time_fix_by_region", "title": "首次修复率按区域 / first-time-fix rate by region",
     "metric": "first_time_fix_rate", "group_by": ["region"], "period": "month"},
    {"name": "rework_top10_by_product", "title": "返工 Top10 按产品线 / rework top 10 by product line",
     "metric": "rework_count", "group_by": ["product_line", "fault_code"], "period": "month", "limit": 10},
    {"name": "dispatch_health_daily", "title": "派单健康日报 / daily dispatch health",
     "metric": ["first_response_timeout_rate", "team_transfers", "skill_match_rate"], "group_by": [],
     "period": "day"},
    {"name": "fault_heatmap", "title": "故障热力图 / fault heat map by region and fault",
     "metric": "ticket_count", "group_by": ["region", "fault_code"], "period": "day", "alert_days": 3},
]
FIELD_DICTIONARY = {
    "客户电话": "customer_phone", "联系电话": "customer_phone", "手机号": "customer_phone",
    "机身条码": "device_sn", "序列号": "device_sn", "品类": "product_line", "产品类别": "product_line",
    "服务类型": "service_type", "地址": "visit_address", "上门地址": "visit_address", "故障现象": "description",
}
FOSHAN = [
    District("440604", "禅城区", 23.0097, 113.1226), District("440605", "南海区", 23.0289, 113.1434),
    District("440606", "顺德区", 22.8051, 113.2934), District("440607", "三水区", 23.1557, 112.8966),
    District("440608", "高明区", 22.9002, 112.8926),
]
FAULTS = [
    Fault("家里空调不制冷，出风是热的", "AC-E1", "维修", {"product_line": "空调", "service_type": "上门"}),
    Fault("冰箱冷藏室不制冷，压缩机一直响", "RF-F3", "维修", {"product_line": "冰箱", "service_type": "上门"}),
    Fault("洗衣机漏水，底部一摊水", "WM-E21", "维修", {"product_line": "洗衣机", "service_type": "上门"}),
    Fault("热水器不加热，显示屏报 E4", "WH-E4", "维修", {"product_line": "热水器", "service_type": "上门"}),
    Fault("燃气灶无法开机点火，打不着火", "GS-E0", "维修", {"product_line": "燃气灶", "service_type": "上门"}),
    Fault("洗衣机脱水时噪音很大", "WM-N1", "维修", {"product_line": "洗衣机", "service_type": "上门"}),
    Fault("油烟机运转有异响，吸力变小", "RH-N2", "维修", {"product_line": "油烟机", "service_type": "上门"}),
    Fault("冰箱里有异味，清洁后还是有", "RF-O1", "维修", {"product_line": "冰箱", "service_type": "电话指导"}),
    Fault("想咨询一下热水器怎么设置预约加热", "Q-100", "咨询", {"product_line": "热水器", "service_type": "电话指导"}),
    Fault("空调遥控器设置睡眠模式咨询", "Q-101", "咨询", {"product_line": "空调", "service_type": "电话指导"}),
    Fault("新买的空调预约安装", "IN-001", "安装", {"product_line": "空调", "service_type": "上门"}),
]
MODELS = {"空调": "KFR-35GW/BP3", "冰箱": "BCD-508WKPZM", "洗衣机": "MG100V58WT", "热水器": "F6030-T5",
          "燃气灶": "JZT-Q230B", "油烟机": "CXW-220-J25"}


def _engineer_extra(rng: random.Random, eng: dict[str, Any]) -> dict[str, Any]:
    # one engineer in four works the hotline (电话指导); product lines follow the skills
    return {"product_lines": sorted(eng["skills"]), "team": "热线" if rng.random() < 0.25 else eng["team"]}


def _ticket_extra(rng: random.Random, ticket: dict[str, Any], fault: Fault) -> dict[str, Any]:
    line = fault.fields["product_line"]
    bought = f"20{rng.randint(21, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    out: dict[str, Any] = {"required_skill": line, "model": MODELS[line], "in_warranty": rng.random() < 0.7,
                           "purchase_date": bought}
    if fault.fields["service_type"] == "上门":
        out["visit_address"] = f"佛山市{rng.choice(['碧桂园', '万科城', '保利花园', '美的君兰'])}{rng.randint(1, 30)}栋"
        day = ticket["reported_at"][:10]
        out["appointment_at"] = f"{day}T{rng.choice(['10', '14', '16', '19'])}:00:00+08:00"
    return out


DEMO_SPEC = DemoSpec(
    city="佛山市", districts=FOSHAN, sn_prefix="MD", models=list(MODELS.values()),
    customer_names=["陈先生", "黄女士", "梁先生", "何女士", "李先生", "罗女士", "区先生", "冯女士", "麦先生", "潘女士"],
    skills=PRODUCT_LINES, teams=["禅南组", "顺德组", "三水高明组"], faults=FAULTS,
    engineer_extra=_engineer_extra, ticket_extra=_ticket_extra, vip_share=0.2,
)


def rules_source() -> str:
    """The pack's ruleset source."""
    return resources.files(__name__).joinpath("rules.rules").read_text(encoding="utf-8")


def demo(seed: int = 0, size: str = "small") -> DemoData:
    """Demo households, appliances, service engineers and calls in Foshan."""
    return generate_demo(NAME, DEMO_SPEC, seed, size)


PACK = TemplatePack(
    name=NAME, version="0.1.1", title="家电售后 / Appliance after-sales", line_key="aftersales", prefix="SH",
    line_name="家电售后",
    description="家电品牌的报修、上门服务、电话指导与回访 / appliance repair, visits, hotline and surveys",
    fields=FIELDS, states=STATES, rules_source=rules_source(), field_dictionary=FIELD_DICTIONARY,
    message_templates=MESSAGE_TEMPLATES, report_presets=REPORT_PRESETS, demo=demo,
)


@hookimpl
def register_template_packs() -> list[TemplatePack]:
    return [PACK]
