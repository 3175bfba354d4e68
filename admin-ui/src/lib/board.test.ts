import { describe, expect, it } from "vitest";
import { allowedMoves, byUrgency, columns, isOverdue } from "./board";
import type { Ticket } from "../api";

const tk = (over: Partial<Ticket>): Ticket => ({ id: "1", number: "WX-1", line: "repair", state: "新建", fields: {}, version: 1, ...over });
const now = new Date("2026-11-25T10:00:00+08:00");

describe("isOverdue", () => {
  it("is past resolve-by and not closed", () => {
    const t = tk({ sla: { tier: "P1", respond_by: null, resolve_by: "2026-11-25T09:00:00+08:00" } });
    expect(isOverdue(t, now, new Set())).toBe(true);
    expect(isOverdue({ ...t, state: "已结案" }, now, new Set(["已结案"]))).toBe(false);
  });
  it("counts respond-by only while nobody has it", () => {
    const t = tk({ sla: { tier: "P0", respond_by: "2026-11-25T09:30:00+08:00", resolve_by: "2026-11-25T13:00:00+08:00" } });
    expect(isOverdue(t, now, new Set())).toBe(true);
    expect(isOverdue({ ...t, assignee: "e1" }, now, new Set())).toBe(false);
  });
});

describe("columns", () => {
  it("keeps the line's order and adds unknown states", () => {
    const cols = columns([{ key: "新建" }, { key: "已派单" }], [tk({ state: "已派单" }), tk({ id: "2", state: "奇怪" })]);
    expect(cols.map((c) => [c.state.key, c.tickets.length])).toEqual([["新建", 0], ["已派单", 1], ["奇怪", 1]]);
  });
});

describe("byUrgency", () => {
  it("sorts by tier, then deadline", () => {
    const a = tk({ number: "A", sla: { tier: "P2", resolve_by: "2026-11-25T09:00:00Z" } });
    const b = tk({ number: "B", sla: { tier: "P0", resolve_by: "2026-11-26T09:00:00Z" } });
    const c = tk({ number: "C", sla: { tier: "P2", resolve_by: "2026-11-24T09:00:00Z" } });
    expect([a, b, c].sort(byUrgency).map((t) => t.number)).toEqual(["B", "C", "A"]);
  });
});

describe("allowedMoves", () => {
  it("follows the transitions, with * as any state", () => {
    const tr: [string, string][] = [["新建", "已派单"], ["已派单", "已到达"], ["*", "已取消"], ["已到达", "已到达"]];
    expect(allowedMoves(tr, "新建")).toEqual(["已派单", "已取消"]);
    expect(allowedMoves(tr, "已到达")).toEqual(["已取消"]);
    expect(allowedMoves(undefined, "新建")).toEqual([]);
  });
});
