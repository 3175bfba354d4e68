import { describe, expect, it } from "vitest";
import { describeChange, eventName } from "./timeline";

describe("timeline", () => {
  it("names events in both languages and keeps unknown ones", () => {
    expect(eventName("scan_checkin", "zh-CN")).toBe("扫码签到");
    expect(eventName("moved", "en")).toBe("moved");
    expect(eventName("plugin_event", "zh-CN")).toBe("plugin_event");
  });

  it("summarises a creation instead of dumping its fields", () => {
    const lines = describeChange(null, { state: "新建", fields: { a: 1, b: 2 }, sla: { tier: "P1" } }, (k) => ({ fields: "字段", state: "状态", sla: "SLA" })[k] ?? k);
    expect(lines).toEqual(["状态: 新建", "字段: 2", "SLA: P1"]);
  });

  it("shows field and state changes as before → after", () => {
    expect(describeChange({ state: "已派单" }, { state: "已到达" })).toEqual(["state: 已派单 → 已到达"]);
    expect(describeChange({ fields: { fault_code: "E-1", x: 1 } }, { fields: { fault_code: "E-2", x: 1 } })).toEqual(["fault_code: E-1 → E-2"]);
    expect(describeChange(null, null)).toEqual([]);
    const names: Record<string, string> = { e1: "王强", e2: "李娜" };
    const who = (_k: string, v: unknown) => (Array.isArray(v) ? v.map((x) => names[x] ?? x).join("、") : names[String(v)] ?? String(v));
    expect(describeChange(null, { offered: ["e1", "e2"] }, (k) => k, who)).toEqual(["offered: 王强、李娜"]);
  });
});
