"""设备维修 (repair) template pack: the equipment-repair line's form, states and rules.

The rules start from the contract's example (`shared/dsl-examples/repair.rules`); a test
keeps them compiling against this pack's form.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

NAME = "repair"
VERSION = "0.1.0"
TITLE = "设备维修 / Equipment repair"
LINE_KEY = "repair"

# Line-specific fields; the platform adds the base fields (category, title, description, …).
FIELDS: list[dict[str, Any]] = [
    {"key": "device_category", "label": "设备类别 Device category", "type": "select", "required": True,
     "options": ["PLC", "注塑机", "数控机床", "空压机", "机器人", "其他"]},
    {"key": "required_skill", "label": "所需技能 Required skill", "type": "select", "required": False,
     "options": ["PLC调试", "液压", "电气", "焊接", "数控", "空压机", "注塑", "机器人"]},
    {"key": "onsite", "label": "需要上门 On site", "type": "bool", "required": False},
    {"key": "site_address", "label": "现场地址 Site address", "type": "text", "required": False},
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
        ["已派单", "新建"],
    ],
}
EVENTS = ["parts_issued"]


def rules_source() -> str:
    """The pack's ruleset source."""
    return resources.files(__name__).joinpath("rules.rules").read_text(encoding="utf-8")
