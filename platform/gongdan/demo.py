"""The demo: the repair line (维修) with its form, states, rules, engineers and tickets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from gongdan import rules_runtime
from gongdan.domain.lines import services as lines
from gongdan.domain.lines.forms import FieldSpec
from gongdan.domain.lines.states import StateMachine, StateSpec
from gongdan.domain.tickets import services as tickets
from gongdan.domain.users.services import create_token, ensure_user, list_users
from gongdan.errors import ApiError
from gongdan.settings import Settings
from gongdan.store.engine import Database

REPAIR_FIELDS = [
    FieldSpec(key="category", label="类别", type="select",
              options=["设备维修", "安装调试", "保养"]),
    FieldSpec(key="device_category", label="设备类别", type="select", required=True,
              options=["PLC", "注塑机", "数控机床", "工业机器人", "其他"]),
    FieldSpec(key="fault_type", label="故障类型", type="select",
              options=["电机异响", "漏油", "报警", "停机", "其他"]),
    FieldSpec(key="vibration_mm_s", label="振动速度 (mm/s)", type="number",
              when={"field": "fault_type", "equals": "电机异响"}),
    FieldSpec(key="vibration_freq_hz", label="振动频率 (Hz)", type="number",
              when={"field": "fault_type", "equals": "电机异响"}),
    FieldSpec(key="onsite", label="上门服务", type="bool", required=True),
    FieldSpec(key="address", label="上门地址", type="text",
              when={"field": "onsite", "equals": True}),
    FieldSpec(key="required_skill", label="所需技能", type="select", required=True,
              options=["PLC调试", "液压", "电气", "机械"]),
    FieldSpec(key="photos", label="现场照片", type="attachment"),
]

REPAIR_STATES = StateMachine(
    initial="新建",
    states=[
        StateSpec(key="新建", label="新建", category="open"),
        StateSpec(key="已派单", label="已派单", category="open"),
        StateSpec(key="已到达", label="已到达", category="open"),
        StateSpec(key="诊断中", label="诊断中", category="open"),
        StateSpec(key="待备件", label="待备件", category="pending"),
        StateSpec(key="维修中", label="维修中", category="open"),
        StateSpec(key="等待客户确认", label="等待客户确认", category="pending"),
        StateSpec(key="已结案", label="已结案", category="closed"),
    ],
    transitions=[
        ("新建", "已派单"), ("已派单", "已到达"), ("已到达", "诊断中"), ("诊断中", "待备件"),
        ("待备件", "维修中"), ("诊断中", "维修中"), ("维修中", "等待客户确认"),
        ("等待客户确认", "已结案"), ("等待客户确认", "维修中"), ("已结案", "维修中"),
    ],
)

ENGINEERS = [
    ("wang", "王工", {"skills": {"PLC调试": 5, "电气": 4}, "max_load": 5, "team": "上海一组",
                      "region": "310115", "location": {"lat": 31.22, "lon": 121.54}}),
    ("li", "李工", {"skills": {"液压": 4, "机械": 3}, "max_load": 4, "team": "上海一组",
                    "region": "310112", "location": {"lat": 31.11, "lon": 121.38}}),
    ("zhang", "张工", {"skills": {"PLC调试": 3, "机械": 5}, "max_load": 6, "team": "苏州组",
                       "region": "320505", "location": {"lat": 31.30, "lon": 120.55}}),
]


def demo_ticket(i: int, **overrides: Any) -> dict[str, Any]:
    """A valid repair ticket (the `i`-th demo customer)."""
    body = {
        "category": "设备维修",
        "title": f"3号线注塑机故障 #{i}",
        "description": "注塑机报警，液压站漏油",
        "customer_id": f"C{1000 + i}",
        "customer_phone": f"1380013{i % 10000:04d}",
        "device_sn": f"IMM-2024-{i:05d}",
        "fault_code": "E-205",
        "region": "310115",
        "location": {"lat": 31.2304, "lon": 121.4737},
        "reported_at": "2026-11-25T09:30:00+08:00",
        "device_category": "注塑机",
        "fault_type": "漏油",
        "onsite": True,
        "address": "上海市浦东新区张江路 100 号",
        "required_skill": "液压",
    }
    body.update(overrides)
    return body


def repair_rules_source() -> str:
    """The repair example ruleset shipped with the demo."""
    return resources.files("gongdan").joinpath("demo_data/repair.rules").read_text("utf-8")


async def load_demo(db: Database, settings: Settings, *, with_tickets: bool = True,
                    packs: Sequence[str] = (), progress: Callable[[str], None] | None = None) -> str:
    """Create (or refresh) the repair line; returns a new admin token.

    `packs` are template packs to install as well, through the installer, with their demo
    data when `with_tickets` (their lines must differ from this demo's `repair`)."""
    admin = await ensure_user("admin", "admin", "管理员")
    actor = admin["name"]
    try:
        await lines.create_line(db, "repair", "设备维修", "WX", actor)
        fresh = True
    except ApiError as exc:
        if exc.status != 409:
            raise
        fresh = False
    if fresh:
        await lines.put_form(db, "repair", REPAIR_FIELDS, actor)
        await lines.put_states(db, "repair", REPAIR_STATES, actor)
        if rules_runtime.available():
            uploaded = await lines.upload_rules(db, "repair", repair_rules_source(), actor)
            await lines.activate_rules(db, "repair", uploaded["version"], actor)
    from gongdan.domain.engineers.services import ensure_engineer

    for name, display, profile in ENGINEERS:
        await ensure_user(name, "engineer", display, profile)
        await ensure_engineer(name, display, profile)
    for name, role in (("dispatcher", "dispatcher"), ("agent", "agent"), ("viewer", "viewer"),
                       ("supervisor", "supervisor")):
        await ensure_user(name, role)
    if fresh and with_tickets:
        from gongdan.domain.users.services import CurrentUser

        me = CurrentUser(id=admin["id"], name=actor, role="admin")
        samples = [
            demo_ticket(1),
            demo_ticket(2, description="3号线注塑机停机，无法启动", fault_type="停机"),
            demo_ticket(3, description="PLC 报警灯闪烁", device_category="PLC",
                        required_skill="PLC调试", fault_type="报警"),
            demo_ticket(4, description="电机异响", fault_type="电机异响", vibration_mm_s=7.1,
                        vibration_freq_hz=50, onsite=False, address=None),
        ]
        for body in samples:
            body = {k: v for k, v in body.items() if v is not None}
            t, _ = await tickets.create_ticket(db, settings, "repair", body, me, "api")
            if body["device_category"] == "PLC":
                await tickets.update_ticket(db, settings, t["id"], t["version"], {}, me,
                                            assignee="wang")
    if packs:
        from gongdan.packs import load_pack
        from gongdan.packs_install import install_pack

        for name in packs:
            await install_pack(db, settings, load_pack(name), demo=with_tickets, by=actor, progress=progress)
    assert await list_users()
    return await create_token(actor, "demo")
