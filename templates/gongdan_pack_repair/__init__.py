"""设备维修 (repair) template pack: the equipment-repair line of a smart-manufacturing company.

Form, state machine, ruleset (from the contract's ``shared/dsl-examples/repair.rules``,
tuned to a 15 km radius), message templates, report presets and demo data in Shanghai.
Registered by entry point (``pack_repair = "gongdan_pack_repair"``), as a third party's
pack would be. ``FIELDS``, ``STATES``, ``EVENTS`` and ``rules_source()`` stay for
``gongdan simulate``.
"""

from __future__ import annotations

import random
from importlib import resources
from typing import Any

from gongdan.hookspecs import EventType, hookimpl
from gongdan.packs import DemoData, DemoSpec, District, Fault, TemplatePack, generate_demo

NAME = "repair"
VERSION = "0.2.0"
TITLE = "设备维修 / Equipment repair"
LINE_KEY = "repair"
SKILLS = ["PLC调试", "液压", "电气", "焊接", "数控", "空压机", "注塑", "机器人"]
MODULES = ["主轴", "液压系统", "电气柜", "控制器", "传感器", "冷却系统", "气路", "机械臂"]

# Line-specific fields; the platform adds the base fields (category, title, description, …).
FIELDS: list[dict[str, Any]] = [
    {"key": "device_category", "label": "设备类别 Device category", "type": "select", "required": True,
     "options": ["PLC", "注塑机", "数控机床", "空压机", "机器人", "其他"]},
    {"key": "required_skill", "label": "所需技能 Required skill", "type": "select", "required": False,
     "options": SKILLS, "help": "派单按此技能匹配工程师 / dispatch matches engineers on this skill"},
    {"key": "module", "label": "故障模块 Module", "type": "select", "required": False, "options": MODULES},
    {"key": "onsite", "label": "需要上门 On site", "type": "bool", "required": False},
    {"key": "site_address", "label": "现场地址 Site address", "type": "text", "required": False,
     "when": {"field": "onsite", "equals": True}},
    {"key": "parts_used", "label": "使用备件 Parts used", "type": "multiselect", "required": False,
     "options": ["伺服电机", "继电器", "液压泵", "密封圈", "电磁阀", "PLC模块", "轴承", "传感器"]},
]
STATES: dict[str, Any] = {
    "initial": "新建",
    "states": [
        {"key": "新建", "label": "新建 New", "category": "open"},
        {"key": "已派单", "label": "已派单 Dispatched", "category": "open"},
        {"key": "已到达", "label": "已到达 On site", "category": "open"},
        {"key": "诊断中", "label": "诊断中 Diagnosing", "category": "open"},
        {"key": "待备件", "label": "待备件 Waiting for parts", "category": "pending"},
        {"key": "维修中", "label": "维修中 Repairing", "category": "open"},
        {"key": "等待客户确认", "label": "等待客户确认 Awaiting customer", "category": "pending"},
        {"key": "已结案", "label": "已结案 Closed", "category": "closed"},
    ],
    "transitions": [
        ["新建", "已派单"], ["已派单", "已到达"], ["已到达", "诊断中"], ["诊断中", "待备件"],
        ["待备件", "维修中"], ["诊断中", "维修中"], ["维修中", "等待客户确认"], ["等待客户确认", "已结案"],
        ["已派单", "新建"], ["已结案", "维修中"],
    ],
}
EVENT_TYPES = (
    EventType(name="parts_issued", title="备件已出库 / parts issued",
              schema={"type": "object", "properties": {"parts": {"type": "array", "items": {"type": "string"}},
                                                       "warehouse": {"type": "string"}}}),
)
EVENTS = [e.name for e in EVENT_TYPES]

MESSAGE_TEMPLATES = {
    "派单通知": "【工单 {{ ticket.number }}】{{ ticket.title }}\n地点：{{ ticket.site_address or ticket.region }}"
                "\n级别 {{ ticket.sla.tier if ticket.sla else '-' }}，请及时接单：{{ link }}",
    "备件申请": "工单 {{ ticket.number }} 申请备件：{{ (ticket.parts_used or []) | join('、') or '待确认' }}，"
                "请仓储尽快出库。",
    "超时升级": "【超时升级】工单 {{ ticket.number }} 在「{{ ticket.state }}」已停留过久，"
                "负责人：{{ engineer.name if engineer else '未指派' }}。",
    "满意度调研": "您好，工单 {{ ticket.number }}（{{ ticket.title }}）已结案。请为本次维修服务评分：{{ link }}",
}
REPORT_PRESETS = [
    {"name": "first_time_fix_by_region", "title": "首次修复率按区域 / first-time-fix rate by region",
     "metric": "first_time_fix_rate", "group_by": ["region"], "period": "month"},
    {"name": "rework_top10_by_module", "title": "返工 Top10 按模块 / rework top 10 by module",
     "metric": "rework_count", "group_by": ["module"], "period": "month", "limit": 10},
    {"name": "dispatch_health_daily", "title": "派单健康日报 / daily dispatch health",
     "metric": ["first_response_timeout_rate", "team_transfers", "skill_match_rate"], "group_by": [],
     "period": "day"},
    {"name": "repair_cost_per_device", "title": "设备全生命周期维修成本 / lifecycle repair cost per device",
     "metric": "parts_cost", "group_by": ["device_sn"], "period": "all"},
]
FIELD_DICTIONARY = {
    "客户电话": "customer_phone", "联系电话": "customer_phone", "手机号": "customer_phone",
    "设备编号": "device_sn", "序列号": "device_sn", "机身号": "device_sn",
    "故障代码": "fault_code", "报警码": "fault_code", "故障描述": "description", "问题描述": "description",
    "设备类型": "device_category", "故障部位": "module", "上门": "onsite", "地址": "site_address",
}

SHANGHAI = [
    District("310101", "黄浦区", 31.2317, 121.4846), District("310104", "徐汇区", 31.1885, 121.4365),
    District("310105", "长宁区", 31.2204, 121.4244), District("310106", "静安区", 31.2496, 121.4550),
    District("310107", "普陀区", 31.2494, 121.3970), District("310109", "虹口区", 31.2646, 121.5052),
    District("310110", "杨浦区", 31.2595, 121.5260), District("310112", "闵行区", 31.1129, 121.3816),
    District("310113", "宝山区", 31.4045, 121.4892), District("310114", "嘉定区", 31.3747, 121.2655),
    District("310115", "浦东新区", 31.2215, 121.5447), District("310117", "松江区", 31.0322, 121.2277),
]
FAULTS = [
    Fault("3号线注塑机停机，无法启动，控制面板无显示", "E-101", "设备故障",
          {"device_category": "注塑机", "required_skill": "注塑", "module": "电气柜", "onsite": True}),
    Fault("空压机运行中冒烟，已紧急断电", "E-102", "设备故障",
          {"device_category": "空压机", "required_skill": "空压机", "module": "冷却系统", "onsite": True}),
    Fault("激光器冷却异常，温度持续升高", "E-118", "设备故障",
          {"device_category": "其他", "required_skill": "电气", "module": "冷却系统", "onsite": True}),
    Fault("PLC 报警灯闪烁，输出点偶发失效", "E-204", "控制系统",
          {"device_category": "PLC", "required_skill": "PLC调试", "module": "控制器", "onsite": True}),
    Fault("数控机床主轴异响，加工精度下降", "E-311", "设备故障",
          {"device_category": "数控机床", "required_skill": "数控", "module": "主轴", "onsite": True}),
    Fault("液压站漏油，压力不稳", "E-402", "设备故障",
          {"device_category": "注塑机", "required_skill": "液压", "module": "液压系统", "onsite": True}),
    Fault("焊接机器人轨迹偏移，需要重新示教", "E-515", "设备故障",
          {"device_category": "机器人", "required_skill": "机器人", "module": "机械臂", "onsite": True}),
    Fault("触摸屏参数设置咨询，想远程指导修改保压时间", "Q-001", "咨询",
          {"device_category": "注塑机", "required_skill": "注塑", "module": "控制器", "onsite": False}),
    Fault("PLC 程序备份方法咨询", "Q-002", "咨询",
          {"device_category": "PLC", "required_skill": "PLC调试", "module": "控制器", "onsite": False}),
    Fault("车间气路压力偏低，气动夹具夹不紧", "E-610", "设备故障",
          {"device_category": "空压机", "required_skill": "空压机", "module": "气路", "onsite": True}),
    Fault("光电传感器检测不稳定，偶发误停", "E-221", "设备故障",
          {"device_category": "其他", "required_skill": "电气", "module": "传感器", "onsite": True}),
]


def _ticket_extra(rng: random.Random, ticket: dict[str, Any], fault: Fault) -> dict[str, Any]:
    if fault.fields.get("onsite"):
        return {"site_address": f"上海市{rng.choice(['一', '二', '三', '五'])}号厂房{rng.randint(1, 6)}车间"}
    return {}


DEMO_SPEC = DemoSpec(
    city="上海市", districts=SHANGHAI, sn_prefix="ZJ",
    models=["HT-650注塑机", "FANUC α-D21", "西门子 S7-1200", "阿特拉斯 GA37", "ABB IRB 2600", "大族 G3015"],
    customer_names=["上海申达精密机械有限公司", "上海华辰汽车零部件有限公司", "上海博睿电子科技有限公司",
                    "上海东岳塑胶制品厂", "上海明珠包装材料有限公司", "上海恒通液压设备有限公司",
                    "上海宏远食品机械有限公司", "上海新阳光伏科技有限公司"],
    skills=SKILLS, teams=["浦西一组", "浦西二组", "浦东组", "远程支持组"], faults=FAULTS,
    ticket_extra=_ticket_extra,
)


def rules_source() -> str:
    """The pack's ruleset source."""
    return resources.files(__name__).joinpath("rules.rules").read_text(encoding="utf-8")


def demo(seed: int = 0, size: str = "small") -> DemoData:
    """Demo customers, devices, engineers and tickets in Shanghai; the same for one seed."""
    return generate_demo(NAME, DEMO_SPEC, seed, size)


PACK = TemplatePack(
    name=NAME, version=VERSION, title=TITLE, line_key=LINE_KEY, line_name="设备维修", prefix="WX",
    description="智能制造企业的设备报修、上门维修、备件与验收 / "
                "equipment repair with on-site visits, parts and sign-off",
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
