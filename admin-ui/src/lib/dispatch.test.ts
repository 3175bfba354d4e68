import { describe, expect, it } from "vitest";
import { factorNames, formatDuration, formatValue, orderCandidates, slaWhy, whyAbove } from "./dispatch";

describe("dispatch helpers", () => {
  it("orders ranked candidates before rejected ones", () => {
    const c = [
      { engineer_id: "e3", score: null, factors: {}, rejected_by: "engineer.on_shift", rank: null },
      { engineer_id: "e2", score: 0.5, factors: { skill_fit: 0.6 }, rejected_by: null, rank: 2 },
      { engineer_id: "e1", score: 0.9, factors: { skill_fit: 1, distance: 0.3 }, rejected_by: null, rank: 1 },
    ];
    expect(orderCandidates(c).map((x) => x.engineer_id)).toEqual(["e1", "e2", "e3"]);
    expect(factorNames({ pool: "p", offered: [], candidates: c })).toEqual(["skill_fit", "distance"]);
  });
  it("formats values and durations", () => {
    expect(formatValue(0.33358)).toBe("0.334");
    expect(formatValue(null)).toBe("—");
    expect(formatValue(false)).toBe("✗");
    expect(formatValue({ lat: 31.23341, lon: 121.4737 })).toBe("31.2334, 121.4737");
    expect(formatValue(["a", 1])).toBe("a、1");
    expect(formatDuration(5400)).toBe("1h30m");
    expect(formatDuration(86400)).toBe("1d");
    expect(formatDuration(1800)).toBe("30m");
  });
});

describe("whyAbove", () => {
  const d = {
    pool: "现场维修", offered: ["e1"], candidates: [
      { engineer_id: "e1", score: 0.927, factors: { "0.5 * skill_fit": 0.5, distance: 0.33, skill_fit: 1 }, rejected_by: null, rank: 1 },
      { engineer_id: "e2", score: 0.516, factors: { "0.5 * skill_fit": 0.3, distance: 1.11, skill_fit: 0.6 }, rejected_by: null, rank: 2 },
      { engineer_id: "e6", score: null, factors: { distance: 14.1 }, rejected_by: "distance <= 5km", rank: null },
    ],
  };
  const names: Record<string, string> = { e1: "小王", e2: "小李", e6: "小赵" };
  const n = (id: string) => names[id];
  it("names the require that rejected the other", () => {
    const w = whyAbove(d, "e1", "e6", n)!;
    expect(w.zh).toBe("小赵 没有进入候选：不满足 `distance <= 5km`（distance = 14.100）；小王 满足所有条件，排第 1。");
    expect(whyAbove(d, "e6", "e1", n)!.zh).toBe(w.zh);
  });
  it("gives the score gap and the largest factor differences", () => {
    const w = whyAbove(d, "e1", "e2", n)!;
    expect(w.zh).toContain("小王 得分 0.927，高于 小李 的 0.516");
    expect(w.zh).toContain("distance: 0.330 vs 1.110");
    expect(w.en).toContain("小王 scores 0.927, above 小李's 0.516");
    expect(whyAbove(d, "e1", "e1", n)).toBeNull();
  });
});

describe("slaWhy", () => {
  it("reads every shape the dry-run may send, in the UI's language", () => {
    expect(slaWhy({ tier: "P1", why_zh: "描述含「漏油」", why_en: "description has 漏油" }, "zh-CN")).toBe("描述含「漏油」");
    expect(slaWhy({ tier: "P1", why_zh: "描述含「漏油」", why_en: "description has 漏油" }, "en")).toBe("description has 漏油");
    expect(slaWhy({ tier: "P1", why_zh: "只有中文" }, "en")).toBe("只有中文");
    expect(slaWhy({ tier: "P1", why: { zh: "设备类别为 PLC", en: "device is a PLC" } }, "en")).toBe("device is a PLC");
    expect(slaWhy({ tier: "P1", why: { why_zh: "甲", why_en: "A" } }, "zh-CN")).toBe("甲");
    expect(slaWhy({ tier: "P1", why: "fault_code in [E-101]" }, "zh-CN")).toBe("fault_code in [E-101]");
    expect(slaWhy({ tier: "P1", why: [{ zh: "甲", en: "A" }, { zh: "乙", en: "B" }] }, "zh-CN")).toBe("甲；乙");
    expect(slaWhy({ tier: "P2", why: { rule: 3 } }, "zh-CN")).toBe('{"rule":3}');
  });
  it("is empty without a reason", () => {
    expect(slaWhy(null, "zh-CN")).toBe("");
    expect(slaWhy({ tier: "P2" }, "zh-CN")).toBe("");
    expect(slaWhy({ tier: "P2", why: null, why_zh: "" }, "en")).toBe("");
  });
});
