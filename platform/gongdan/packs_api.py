"""HTTP: /api/packs — the template packs the plugins bring, and installing one.

`GET /api/packs` lists them with what is installed; `POST /api/packs/{name}/install`
(`{"demo": bool, "force": bool}`) installs or upgrades one through
:func:`gongdan.packs_install.install_pack`, exactly as `gongdan packs install` does.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from gongdan.auth import allowed
from gongdan.errors import ApiError, not_found
from gongdan.packs import PackNotFound, TemplatePack, installed_packs, load_pack
from gongdan.packs_install import install_pack, installed, parse_version
from gongdan.plugins import get_plugin_manager


class InstallIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`demo`: also write the pack's demo data; `force`: allow a downgrade or a changed pack
    under an installed version."""

    demo: bool = False
    force: bool = False


def _summary(pack: Any, row: dict[str, Any] | None) -> dict[str, Any]:
    out = {"name": pack.name, "version": pack.version, "title": pack.title,
           "line": getattr(pack, "line_key", None), "line_name": getattr(pack, "line_name", None),
           "description": getattr(pack, "description", ""), "installable": isinstance(pack, TemplatePack),
           "installed": row}
    state = "not_installed"
    if row is not None:
        try:
            have, want = parse_version(row["version"]), parse_version(pack.version)
            state = "installed" if have == want else "upgrade_available" if have < want else "newer_installed"
        except ValueError:
            state = "installed"
    out["state"] = state
    return out


class PacksController(Controller):
    """Template packs: list and install (admins)."""

    path = "/api/packs"
    tags = ["packs"]  # noqa: RUF012

    @get("/", guards=[allowed("packs.read")])
    async def list_packs(self) -> list[dict]:
        """Every pack the plugins bring, with its installed version (if any) and state
        (`not_installed`, `installed`, `upgrade_available`, `newer_installed`)."""
        rows = {r["pack"]: r for r in await installed()}
        packs = installed_packs(get_plugin_manager())
        out = [_summary(p, rows.pop(name, None)) for name, p in packs.items()]
        # installed earlier, its plugin since removed: still listed, not installable
        out += [{"name": name, "version": None, "title": r["title"], "line": (r["line_keys"] or [None])[0],
                 "line_name": None, "description": "", "installable": False, "installed": r,
                 "state": "plugin_missing"} for name, r in rows.items()]
        return out

    @get("/{name:str}", guards=[allowed("packs.read")])
    async def get_pack(self, name: FromPath[str]) -> dict:
        """One pack: its whole content (as `gongdan packs show --json`) and installed state."""
        rows = {r["pack"]: r for r in await installed()}
        try:
            pack = load_pack(name, get_plugin_manager())
        except PackNotFound:
            raise not_found("模板包", "template pack", name) from None
        except TypeError as exc:
            raise ApiError(422, f"模板包 {name} 无法读取", str(exc)) from None
        return {**pack.to_dict(), **_summary(pack, rows.get(name))}

    @post("/{name:str}/install", guards=[allowed("packs.install")], status_code=200)
    async def install(self, request: Request[Any, Any, Any], name: FromPath[str],
                      data: JSONBody[InstallIn | None] = None) -> dict:
        """Install or upgrade a pack (idempotent); the answer says what was done
        (`action`: installed, upgraded, unchanged, reinstalled, downgraded) and the
        progress lines."""
        body = data or InstallIn()
        pm = get_plugin_manager()
        try:
            pack = load_pack(name, pm)
        except PackNotFound as exc:
            raise ApiError(404, f"没有插件提供模板包 {name}", str(exc).split(" / ", 1)[-1]) from None
        except TypeError as exc:
            raise ApiError(422, f"模板包 {name} 不能安装", str(exc).split(" / ", 1)[-1]) from None
        progress: list[str] = []
        report = await install_pack(request.app.state.db, request.app.state.settings, pack, demo=body.demo,
                                    force=body.force, by=request.user.name, pm=pm, progress=progress.append)
        return {**report.to_dict(), "progress": progress}
