import { describe, expect, it } from "vitest";
import { factorNames, formatDuration, formatValue, orderCandidates } from "./dispatch";

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
