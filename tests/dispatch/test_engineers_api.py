"""Engineers through HTTP: create, read, change, import (all rows or none), location, shift,
role checks. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io

from openpyxl import Workbook

from tests.dispatch.conftest import ENGINEERS, token_for
from tests.platform.conftest import Api


def assert_error(r, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["message_zh"] and body["message_en"]
    return body


async def test_create_get_list_patch(api: Api) -> None:
    r = await api.post("/api/engineers", ENGINEERS[0])
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["id"] == "xiaowang" and e["name"] == "小王" and e["skills"] == {"液压": 5, "电气": 3}
    assert e["load"] == 0 and e["max_load"] == 3 and e["on_shift"] is True and e["team"] == "一组"
    assert e["location"] == {"lat": 31.23, "lon": 121.47} and e["region"] == "310115"
    assert (await api.get("/api/engineers/xiaowang")).json() == e
    r = await api.patch("/api/engineers/xiaowang", {"skills": {"液压": 2}, "max_load": 6, "team": "二组"})
    assert r.status_code == 200, r.text
    assert r.json()["skills"] == {"液压": 2} and r.json()["max_load"] == 6 and r.json()["team"] == "二组"
    await api.post("/api/engineers", ENGINEERS[1])
    items = (await api.get("/api/engineers")).json()["items"]
    assert [i["id"] for i in items] == ["xiaoli", "xiaowang"]
    assert [i["id"] for i in (await api.get("/api/engineers?team=二组")).json()["items"]] == ["xiaowang"]
    # the engineer is also a user with role engineer
    users = {u["name"]: u["role"] for u in (await api.get("/api/users")).json()}
    assert users["xiaowang"] == "engineer"


async def test_bad_values_name_every_field(api: Api) -> None:
    # without an id (as the admin UI sends it) one is given
    r = await api.post("/api/engineers", {"name": "无号", "skills": {"电气": 2}})
    assert r.status_code == 201 and r.json()["id"] == "E0001", r.text
    await api.patch("/api/engineers/E0001", {"active": False})
    r = await api.post("/api/engineers", {"id": "x y", "name": "", "skills": {"液压": 9}, "max_load": 0,
                                          "region": "999999", "location": {"lat": 100, "lon": 0},
                                          "shifts": [["8点", "18:00"]], "phone": "123", "colour": "red"})
    body = assert_error(r, 422)
    keys = {e["key"] for e in body["extra"]}
    assert keys == {"id", "name", "skills", "max_load", "region", "location", "shifts", "phone", "colour"}
    assert [e["id"] for e in (await api.get("/api/engineers")).json()["items"]] == ["E0001"]
    await api.post("/api/engineers", ENGINEERS[0])
    assert_error(await api.post("/api/engineers", ENGINEERS[0]), 409)
    assert_error(await api.get("/api/engineers/nobody"), 404)
    assert_error(await api.patch("/api/engineers/nobody", {"max_load": 3}), 404)
    assert_error(await api.patch("/api/engineers/xiaowang", {"id": "other"}), 422)
    # a user with another role cannot become an engineer
    await api.as_("disp", "dispatcher")
    assert_error(await api.post("/api/engineers", {"id": "disp", "name": "调度"}), 409)


async def test_roles(api: Api) -> None:
    await api.post("/api/engineers", ENGINEERS[0])
    await api.post("/api/engineers", ENGINEERS[1])
    wang = await token_for(api, "xiaowang")
    # engineers see themselves only, and cannot edit records
    assert [i["id"] for i in (await wang.get("/api/engineers")).json()["items"]] == ["xiaowang"]
    assert (await wang.get("/api/engineers/xiaowang")).status_code == 200
    assert_error(await wang.get("/api/engineers/xiaoli"), 404)
    assert_error(await wang.patch("/api/engineers/xiaowang", {"max_load": 9}), 403)
    assert_error(await wang.post("/api/engineers", {"id": "e9", "name": "九"}), 403)
    # ... but report their own location and shift
    r = await wang.post("/api/engineers/xiaowang/location", {"lat": 31.1, "lon": 121.2})
    assert r.status_code == 200 and r.json()["location"] == {"lat": 31.1, "lon": 121.2}
    assert r.json()["location_at"]
    assert_error(await wang.post("/api/engineers/xiaoli/location", {"lat": 31.1, "lon": 121.2}), 403)
    assert (await wang.post("/api/engineers/xiaowang/off-shift")).json()["on_shift"] is False
    assert (await wang.post("/api/engineers/xiaowang/on-shift")).json()["on_shift"] is True
    assert_error(await wang.post("/api/engineers/xiaoli/off-shift"), 403)
    viewer = await api.as_("vera", "viewer")
    assert_error(await viewer.get("/api/engineers"), 403)
    dispatcher = await api.as_("dora", "dispatcher")
    assert (await dispatcher.patch("/api/engineers/xiaoli", {"max_load": 4})).json()["max_load"] == 4
    assert_error(await api.post("/api/engineers/xiaowang/location", {"lat": 120, "lon": 0}), 422)


GOOD_CSV = """工号,姓名,技能,负载上限,班组,主管,区域,位置,班次,证书,电话
E001,王强,"PLC调试:4; 液压:3",5,浦东组,laozhang,310115,"31.2304,121.4737",08:00-18:00,电工证,13800138000
E002,李娜,电气：5、焊接：2,4,闵行组,,310112,31.11 121.38,08:00-12:00;13:00-18:00,,
"""


async def test_import_csv_and_update(api: Api) -> None:
    files = {"file": ("team.csv", GOOD_CSV.encode("utf-8-sig"), "text/csv")}
    r = await api.post("/api/engineers/import", files=files)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "updated": 0, "total": 2, "imported": 2}
    e = (await api.get("/api/engineers/E001")).json()
    assert e["name"] == "王强" and e["skills"] == {"PLC调试": 4, "液压": 3} and e["supervisor"] == "laozhang"
    assert e["shifts"] == [["08:00", "18:00"]] and e["phone"] == "13800138000"
    # importing again updates, keeping load and shift state
    changed = GOOD_CSV.replace("PLC调试:4; 液压:3", "PLC调试:5")
    r = await api.post("/api/engineers/import", files={"file": ("team.csv", changed.encode(), "text/csv")})
    assert r.json() == {"created": 0, "updated": 2, "total": 2, "imported": 2}
    assert (await api.get("/api/engineers/E001")).json()["skills"] == {"PLC调试": 5}


async def test_import_xlsx(api: Api) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["id", "name", "skills", "max_load", "team"])
    ws.append(["E100", "Zhou", "液压:4", 3, "一组"])
    buf = io.BytesIO()
    wb.save(buf)
    r = await api.post("/api/engineers/import", files={"file": ("t.xlsx", buf.getvalue(), "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert (await api.get("/api/engineers/E100")).json()["skills"] == {"液压": 4}


async def test_import_all_or_nothing_with_row_errors(api: Api) -> None:
    bad = GOOD_CSV + "E003,,液压:9,100,,,123456,north,8-18,,12\nE001,重复,,,,,,,,,\n"
    r = await api.post("/api/engineers/import", files={"file": ("team.csv", bad.encode(), "text/csv")})
    body = assert_error(r, 422)
    rows = {(e["row"], e["key"]) for e in body["extra"]}
    assert {(4, "name"), (4, "skills"), (4, "max_load"), (4, "region"), (4, "location"), (4, "shift"),
            (4, "phone"), (5, "id")} <= rows
    assert all(e["message_zh"] and e["message_en"] for e in body["extra"])
    assert (await api.get("/api/engineers")).json()["items"] == []
    assert_error(await api.post("/api/engineers/import", files={"file": ("t.pdf", b"x", "application/pdf")}), 422)
    assert_error(await api.post("/api/engineers/import", files={"note": (None, b"y")}), 422)
