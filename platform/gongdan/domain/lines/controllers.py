"""HTTP: /api/lines — lines, forms, states and rulesets."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from gongdan.auth import allowed
from gongdan.domain import audit
from gongdan.domain.lines import services
from gongdan.domain.lines.forms import FieldSpec, field_dictionary
from gongdan.domain.lines.states import StateMachine


class LineIn(msgspec.Struct, kw_only=True):
    """A new line: `prefix` starts its ticket numbers (default: the key's first two letters)."""

    key: str
    name: str
    prefix: str | None = None


class FormIn(msgspec.Struct, kw_only=True):
    """A form's fields; the base fields are added by the platform."""

    fields: list[FieldSpec]


class RulesIn(msgspec.Struct, kw_only=True):
    """A `.rules` source to store as a new version."""

    source: str


def _line(row: dict[str, Any]) -> dict[str, Any]:
    return {"key": row["key"], "name": row["name"], "prefix": row["prefix"],
            "form_version": row["form_version"] or None, "rules_version": row["rules_version"],
            "states": row["states"]}


class DryRunIn(msgspec.Struct, kw_only=True):
    """A ticket as the form would send it (`state` optional)."""

    ticket: dict[str, Any]


class ReplayIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which stored tickets to replay: created in [`since`, `until`) (ISO 8601 with a zone),
    in `state`, the newest `limit`; `against` is the version to compare with (default: the
    active one; null: no ruleset); `changed_only` leaves out tickets that would not change."""

    since: str | None = None
    until: str | None = None
    limit: int = 200
    state: str | None = None
    against: int | msgspec.UnsetType | None = msgspec.UNSET
    changed_only: bool = False


class LinesController(Controller):
    """Business lines and what belongs to them."""

    path = "/api/lines"
    tags = ["lines"]  # noqa: RUF012

    @post("/", guards=[allowed("lines.write")])
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[LineIn]) -> dict:
        """Create a line."""
        row = await services.create_line(request.app.state.db, data.key, data.name, data.prefix,
                                         request.user.name)
        return _line(row)

    @get("/", guards=[allowed("lines.read")])
    async def list_lines(self) -> list[dict]:
        """Every line."""
        return [_line(r) for r in await services.list_lines()]

    @get("/{line:str}", guards=[allowed("lines.read")])
    async def get_line(self, line: FromPath[str]) -> dict:
        """One line."""
        return _line(await services.get_line(line))

    @put("/{line:str}/form", guards=[allowed("lines.write")])
    async def put_form(self, request: Request[Any, Any, Any], line: FromPath[str],
                       data: JSONBody[FormIn]) -> dict:
        """Store a new form version."""
        return await services.put_form(request.app.state.db, line, data.fields, request.user.name)

    @get("/{line:str}/form", guards=[allowed("lines.read")])
    async def get_form(self, line: FromPath[str], version: FromQuery[int | None] = None) -> dict:
        """The current form (or `?version=`): fields and JSON Schema."""
        return await services.get_form(line, version)

    @put("/{line:str}/states", guards=[allowed("lines.write")])
    async def put_states(self, request: Request[Any, Any, Any], line: FromPath[str],
                         data: JSONBody[StateMachine]) -> dict:
        """Replace the state machine."""
        return await services.put_states(request.app.state.db, line, data, request.user.name)

    @get("/{line:str}/states", guards=[allowed("lines.read")])
    async def get_states(self, line: FromPath[str]) -> dict | None:
        """The state machine."""
        machine = await services.get_states(line)
        return msgspec.to_builtins(machine) if machine else None

    @put("/{line:str}/rules", guards=[allowed("rules.write")], status_code=201)
    async def put_rules(self, request: Request[Any, Any, Any], line: FromPath[str],
                        data: JSONBody[RulesIn]) -> dict:
        """Upload a ruleset version (checked against the form; not active yet)."""
        return await services.upload_rules(request.app.state.db, line, data.source,
                                           request.user.name)

    @post("/{line:str}/rules/check", guards=[allowed("rules.write")], status_code=200)
    async def check_rules(self, line: FromPath[str], data: JSONBody[RulesIn]) -> dict:
        """Every diagnostic of a source against the line's form and states; nothing is stored."""
        return await services.check_rules(line, data.source)

    @post("/{line:str}/dry-run", guards=[allowed("rules.write")], status_code=200)
    async def dry_run(self, line: FromPath[str], data: JSONBody[DryRunIn]) -> dict:
        """The active rules' SLA tier and routing for a ticket; nothing stored, no offers sent."""
        return await services.dry_run(line, data.ticket)

    @get("/{line:str}/rules", guards=[allowed("lines.read")])
    async def list_rules(self, line: FromPath[str]) -> list[dict]:
        """Every ruleset version, newest first."""
        return await services.list_rules(line)

    @get("/{line:str}/rules/{version:int}", guards=[allowed("lines.read")])
    async def get_rules(self, line: FromPath[str], version: FromPath[int]) -> dict:
        """One ruleset version with its source."""
        return await services.get_rules(line, version)

    @post("/{line:str}/rules/{version:int}/activate", guards=[allowed("rules.activate")],
          status_code=200)
    async def activate(self, request: Request[Any, Any, Any], line: FromPath[str],
                       version: FromPath[int]) -> dict:
        """Make a version the active one (audited)."""
        return await services.activate_rules(request.app.state.db, line, version,
                                             request.user.name)

    @get("/{line:str}/rules/compare", guards=[allowed("lines.read")])
    async def compare(self, line: FromPath[str], a: FromQuery[int], b: FromQuery[int]) -> dict:
        """Diff two versions and replay recent tickets through both."""
        return await services.compare_rules(line, a, b)

    @post("/{line:str}/rules/{version:int}/replay", guards=[allowed("rules.write")],
          status_code=200)
    async def replay(self, line: FromPath[str], version: FromPath[int],
                     data: JSONBody[ReplayIn]) -> dict:
        """Replay stored tickets through a version (against the active one): per ticket what
        would change (tier, windows, pool, candidates, close lock); nothing is stored."""
        from gongdan.domain.tickets.controllers import _when

        return await services.replay_rules(
            line, version, against=data.against, since=_when("since", data.since),
            until=_when("until", data.until), limit=data.limit, state=data.state,
            changed_only=data.changed_only)

    @get("/{line:str}/audit", guards=[allowed("lines.read")])
    async def audit_log(self, line: FromPath[str]) -> list[dict]:
        """The line's audit entries, newest first."""
        return await audit.entries(line)


@get("/api/field-dictionary", guards=[allowed("lines.read")], tags=["lines"])
async def get_field_dictionary() -> dict[str, list[str]]:
    """The field dictionary: canonical key -> synonyms."""
    return field_dictionary()
