"""电梯维保 (elevator maintenance): a third-party gongdan template pack.

One package, one entry point (``pack_elevator = "gongdan_pack_elevator"``), the rules as
package data; it imports only gongdan's public plugin API (``gongdan.hookspecs``,
``gongdan.packs``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from gongdan.hookspecs import hookimpl
from gongdan.packs import DemoData, DemoSpec, District, Fault, TemplatePack, generate_demo

TYPES = ["乘客电梯", "载货电梯", "自动扶梯"]

FIELDS: list[dict[str, Any]] = [
    {"key": "elevator_type", "label": "电梯类型 Elevator type", "type": "select", "required": True, "options": TYPES},
    {"key": "trapped", "label": "是否困人 People trapped", "type": "bool", "required": True},
    {"key": "registration_code", "label": "使用登记证号 Registration code", "type": "text", "required": False},
    {"key": "floor", "label": "停靠楼层 Floor", "type": "number", "required": False},
]
STATES: dict[str, Any] = {
    "initial": "新建",
    "states": [
        {"key": "新建", "label": "新建 New", "category": "open"},
        {"key": "已派单", "label": "已派单 Dispatched", "category": "open"},
        {"key": "已到场", "label": "已到场 On site", "category": "open"},
        {"key": "已恢复", "label": "已恢复 Restored", "category": "pending"},
        {"key": "已结案", "label": "已结案 Closed", "category": "closed"},
    ],
    "transitions": [["新建", "已派单"], ["已派单", "已到场"], ["已到场", "已恢复"], ["已恢复", "已结案"]],
}
MESSAGE_TEMPLATES = {
    "救援完成": "您好，{{ ticket.title }}的救援已完成，电梯已恢复运行。工单 {{ ticket.number }}",
    "救援超时": "【困人超时】工单 {{ ticket.number }} 派单 10 分钟仍未到场，请立即处理！",
    "维保回访": "工单 {{ ticket.number }} 已结案，请评价本次维保服务：{{ link }}",
}
SPEC = DemoSpec(
    city="上海市",
    districts=[District("310104", "徐汇区", 31.1885, 121.4365), District("310105", "长宁区", 31.2204, 121.4244),
               District("310112", "闵行区", 31.1129, 121.3816)],
    sn_prefix="DT", models=["三菱 NexWay", "奥的斯 GeN2", "日立 HGP", "通力 MonoSpace"],
    customer_names=["徐汇苑物业", "长宁花园物业", "闵行万达广场", "虹桥商务中心物业"],
    skills=TYPES, teams=["徐汇站", "闵行站"],
    faults=[Fault("3号楼电梯困人，2人被困", "TR-01", "救援", {"elevator_type": "乘客电梯", "trapped": True}),
            Fault("货梯门关不上，停在5楼", "DR-03", "故障", {"elevator_type": "载货电梯", "trapped": False}),
            Fault("扶梯运行有异响", "ES-07", "故障", {"elevator_type": "自动扶梯", "trapped": False}),
            Fault("半月保养", "MT-15", "保养", {"elevator_type": "乘客电梯", "trapped": False})],
)


def demo(seed: int = 0, size: str = "small") -> DemoData:
    """Demo property managers, elevators, engineers and tickets in Shanghai."""
    return generate_demo("elevator", SPEC, seed, size)


PACK = TemplatePack(
    name="elevator", version="0.1.0", title="电梯维保 / Elevator maintenance", line_key="elevator", prefix="DT",
    line_name="电梯维保", fields=FIELDS, states=STATES,
    rules_source=resources.files(__name__).joinpath("rules.rules").read_text(encoding="utf-8"),
    field_dictionary={"困人": "trapped", "梯型": "elevator_type", "注册代码": "registration_code"},
    message_templates=MESSAGE_TEMPLATES,
    report_presets=[{"name": "rescue_time", "title": "困人救援到场时间 / rescue arrival time",
                     "metric": "first_response_minutes", "group_by": ["region"], "period": "month"}],
    demo=demo,
)


@hookimpl
def register_template_packs() -> list[TemplatePack]:
    return [PACK]
