"""Lines, forms, states and the error shape, through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.platform.conftest import Api, make_repair_line


def assert_error_shape(body: dict, status: int) -> None:
    assert body["status"] == status
    assert body["message_zh"] and body["message_en"]
    assert isinstance(body["extra"], list)
    for item in body["extra"]:
        assert set(item) == {"key", "message_zh", "message_en"}


async def test_line_form_states_roundtrip(api: Api) -> None:
    await make_repair_line(api)
    r = await api.get("/api/lines/repair")
    line = r.json()
    assert line["prefix"] == "WX" and line["form_version"] == 1
    form = (await api.get("/api/lines/repair/form")).json()
    keys = [f["key"] for f in form["fields"]]
    # base fields first, all required, then the line's own
    assert keys[:10] == ["category", "title", "description", "customer_id", "customer_phone",
                         "device_sn", "fault_code", "region", "location", "reported_at"]
    assert set(keys[:10]) <= set(form["schema"]["required"])
    assert "device_category" in form["schema"]["required"]
    # conditionals are stored as JSON Schema if/then
    assert any(c["then"]["required"] == ["address"] for c in form["schema"]["allOf"])
    # a new form is a new version; the old one stays readable
    r = await api.put("/api/lines/repair/form", {"fields": [
        {"key": "联系电话", "label": "联系电话", "type": "phone"},
        {"key": "priority", "label": "优先级", "type": "select", "options": ["高", "低"]},
    ]})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    fields = {f["key"]: f for f in r.json()["fields"]}
    assert "联系电话" not in fields and fields["customer_phone"]["required"] is True
    old = (await api.get("/api/lines/repair/form", params={"version": 1})).json()
    assert old["version"] == 1 and "device_category" in old["schema"]["properties"]


async def test_bad_form_names_every_field(api: Api) -> None:
    await api.post("/api/lines", {"key": "x1", "name": "X"})
    r = await api.put("/api/lines/x1/form", {"fields": [
        {"key": "1bad", "label": "a", "type": "text"},
        {"key": "color", "label": "b", "type": "colour"},
        {"key": "kind", "label": "c", "type": "select"},
        {"key": "state", "label": "d", "type": "text"},
        {"key": "vib", "label": "e", "type": "number", "when": {"field": "nope", "equals": 1}},
    ]})
    assert r.status_code == 422
    body = r.json()
    assert_error_shape(body, 422)
    assert [e["key"] for e in body["extra"]] == ["fields.0", "fields.1", "fields.2", "fields.3",
                                                "fields.vib.when"]
    assert (await api.get("/api/lines/x1")).json()["form_version"] is None


async def test_states_are_checked(api: Api) -> None:
    await api.post("/api/lines", {"key": "s1", "name": "S"})
    r = await api.put("/api/lines/s1/states", {
        "initial": "done",
        "states": [{"key": "new", "category": "open"}, {"key": "done", "category": "closed"},
                   {"key": "new", "category": "open"}],
        "transitions": [["new", "gone"]],
    })
    assert r.status_code == 422
    keys = {e["key"] for e in r.json()["extra"]}
    assert {"states.2.key", "initial", "transitions.0"} <= keys
    r = await api.put("/api/lines/s1/states", {
        "initial": "new", "states": [{"key": "new"}, {"key": "bad", "category": "weird"}],
    })
    assert r.status_code == 400
    assert_error_shape(r.json(), 400)


async def test_duplicate_line_and_missing_line(api: Api) -> None:
    assert (await api.post("/api/lines", {"key": "d1", "name": "D"})).status_code == 201
    r = await api.post("/api/lines", {"key": "d1", "name": "D"})
    assert r.status_code == 409
    assert_error_shape(r.json(), 409)
    r = await api.get("/api/lines/none")
    assert r.status_code == 404
    assert_error_shape(r.json(), 404)
    r = await api.post("/api/lines", {"key": "Bad Key", "name": ""})
    assert r.status_code == 422
    assert {e["key"] for e in r.json()["extra"]} == {"key", "name"}


async def test_auth_and_roles(api: Api) -> None:
    r = await api.client.get("/api/lines")
    assert r.status_code == 401
    assert_error_shape(r.json(), 401)
    r = await api.client.get("/api/lines", headers={"Authorization": "Bearer gd_nope"})
    assert r.status_code == 401
    viewer = await api.as_("vera", "viewer")
    assert (await viewer.get("/api/lines")).status_code == 200
    r = await viewer.post("/api/lines", {"key": "v1", "name": "V"})
    assert r.status_code == 403
    assert_error_shape(r.json(), 403)
    assert "viewer" in r.json()["message_en"]
    me = (await viewer.get("/api/me")).json()
    assert me["role"] == "viewer" and "tickets.create" not in me["may"]
    r = await api.post("/api/users", {"name": "x", "role": "king"})
    assert r.status_code == 422
    assert (await api.client.get("/health")).status_code == 200
    assert (await api.client.get("/schema/openapi.json")).status_code == 200


async def test_field_dictionary(api: Api) -> None:
    d = (await api.get("/api/field-dictionary")).json()
    assert {"客户电话", "联系电话", "手机号"} <= set(d["customer_phone"])


async def test_defaults_and_validation(api: Api) -> None:
    from gongdan.demo import demo_ticket

    await make_repair_line(api)
    r = await api.put("/api/lines/repair/form", {"fields": [
        {"key": "device_category", "label": "设备", "type": "select", "options": ["PLC", "其他"],
         "required": True, "default": "其他"},
        {"key": "onsite", "label": "上门", "type": "bool", "default": False},
        {"key": "required_skill", "label": "技能", "type": "text", "default": "液压"},
        {"key": "hours", "label": "工时", "type": "number", "validation": {"min": 0, "max": 24}},
        {"key": "po", "label": "订单号", "type": "text",
         "validation": {"pattern": "^PO-\\d+$", "max_length": 10}},
    ]})
    assert r.status_code == 200, r.text
    assert r.json()["schema"]["properties"]["hours"]["maximum"] == 24
    body = {k: v for k, v in demo_ticket(1).items()
            if k not in ("device_category", "onsite", "required_skill", "address", "fault_type")}
    r = await api.post("/api/lines/repair/tickets", {**body, "hours": 25, "po": "PO-123456789"})
    assert r.status_code == 422
    assert {e["key"] for e in r.json()["extra"]} == {"hours", "po"}
    r = await api.post("/api/lines/repair/tickets", {**body, "hours": 2, "po": "PO-1"})
    assert r.status_code == 201, r.text
    assert r.json()["fields"]["device_category"] == "其他"
    assert r.json()["fields"]["onsite"] is False
    r = await api.put("/api/lines/repair/form", {"fields": [
        {"key": "hours", "label": "工时", "type": "number", "default": "many"},
        {"key": "po", "label": "订单号", "type": "number", "validation": {"pattern": "("}},
    ]})
    assert r.status_code == 422
    assert [e["key"] for e in r.json()["extra"]] == ["fields.1.validation", "fields.0.default"]


async def test_revoked_tokens_stop_working(api: Api) -> None:
    viewer = await api.as_("vic", "viewer")
    assert (await viewer.get("/api/me")).status_code == 200
    r = await api.post("/api/users/vic/tokens/revoke")
    assert r.status_code == 200 and r.json()["revoked"] == 1
    assert (await viewer.get("/api/me")).status_code == 401  # the test app caches nothing
    assert (await api.post("/api/users/nobody/tokens/revoke")).status_code == 404
