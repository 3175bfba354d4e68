import { describe, expect, it } from "vitest";
import {
  fromFields, newField, suggestKey, toFields, validateFields, type DesignerField,
} from "./formDesigner";

const dict = {
  customer_phone: ["客户电话", "联系电话", "手机号"],
  device_sn: ["设备序列号", "序列号", "SN"],
  onsite: ["上门", "是否上门"],
  required_skill: ["所需技能", "技能"],
};

function field(over: Partial<DesignerField>): DesignerField {
  return { ...newField("text"), ...over };
}

describe("toFields", () => {
  it("keeps canvas order and drops empty extras", () => {
    const state = [
      field({ key: "onsite", label: "是否上门", type: "bool", required: true }),
      field({ key: "urgency", label: " 紧急程度 ", type: "select", options: ["高", " 低 ", ""], default: "高" }),
      field({ key: "note", label: "备注", type: "textarea", help: "  ", validation: { max_length: 200, min: 3 } }),
    ];
    expect(toFields(state)).toEqual([
      { key: "onsite", label: "是否上门", type: "bool", required: true },
      { key: "urgency", label: "紧急程度", type: "select", required: false, options: ["高", "低"], default: "高" },
      { key: "note", label: "备注", type: "textarea", required: false, validation: { max_length: 200 } },
    ]);
  });

  it("round-trips through fromFields and leaves base fields out", () => {
    const fields = [
      { key: "title", label: "标题", type: "text" as const, required: true },
      { key: "parts", label: "备件", type: "multiselect" as const, required: false, options: ["电机", "皮带"], help: "可多选" },
    ];
    const state = fromFields(fields);
    expect(state.map((f) => f.key)).toEqual(["parts"]);
    expect(toFields(state)).toEqual([fields[1]]);
  });
});

describe("newField", () => {
  it("gives a key not used yet", () => {
    const a = newField("number");
    const b = newField("number", [a]);
    expect(a.key).toBe("number_1");
    expect(b.key).toBe("number_2");
    expect(validateFields([a, { ...b, label: "x" }]).get(b.uid)).toBeUndefined();
  });
});

describe("validateFields", () => {
  const codes = (state: DesignerField[], i: number) => (validateFields(state).get(state[i].uid) ?? []).map((x) => x.code);

  it("flags duplicate keys on both fields", () => {
    const s = [field({ key: "a1", label: "A" }), field({ key: "a1", label: "B" })];
    expect(codes(s, 0)).toEqual(["key_duplicate"]);
    expect(codes(s, 1)).toEqual(["key_duplicate"]);
  });

  it("flags empty, invalid and reserved keys", () => {
    const s = [
      field({ key: "", label: "A" }),
      field({ key: "1abc", label: "B" }),
      field({ key: "Phone", label: "C" }),
      field({ key: "客户", label: "D" }),
      field({ key: "customer_phone", label: "E" }),
      field({ key: "reported_at", label: "F" }),
    ];
    expect(codes(s, 0)).toEqual(["key_empty"]);
    expect(codes(s, 1)).toEqual(["key_invalid"]);
    expect(codes(s, 2)).toEqual(["key_invalid"]);
    expect(codes(s, 3)).toEqual(["key_invalid"]);
    expect(codes(s, 4)).toEqual(["key_reserved"]);
    expect(codes(s, 5)).toEqual(["key_reserved"]);
  });

  it("needs options on select and multiselect", () => {
    const s = [
      field({ key: "a", label: "A", type: "select", options: [] }),
      field({ key: "b", label: "B", type: "multiselect", options: ["  "] }),
      field({ key: "c", label: "C", type: "select", options: ["x"] }),
    ];
    expect(codes(s, 0)).toEqual(["options_empty"]);
    expect(codes(s, 1)).toEqual(["options_empty"]);
    expect(codes(s, 2)).toEqual([]);
  });

  it("checks labels, ranges, patterns and defaults", () => {
    const s = [
      field({ key: "a", label: "" }),
      field({ key: "b", label: "B", type: "number", validation: { min: 5, max: 1 } }),
      field({ key: "c", label: "C", validation: { pattern: "([" } }),
      field({ key: "d", label: "D", type: "select", options: ["x"], default: "y" }),
      field({ key: "e", label: "E", type: "number", default: "abc" }),
    ];
    expect(codes(s, 0)).toEqual(["label_empty"]);
    expect(codes(s, 1)).toEqual(["range"]);
    expect(codes(s, 2)).toEqual(["pattern"]);
    expect(codes(s, 3)).toEqual(["default_option"]);
    expect(codes(s, 4)).toEqual(["default_type"]);
  });
});

describe("suggestKey", () => {
  it("proposes customer_phone for 联系电话 and says it is a base field", () => {
    expect(suggestKey("联系电话", dict)).toEqual({ key: "customer_phone", matched: "联系电话", exact: true, reserved: true });
  });

  it("matches full-width and surrounding text", () => {
    expect(suggestKey("ＳＮ", dict)?.key).toBe("device_sn");
    expect(suggestKey("客户联系电话（必填）", dict)?.key).toBe("customer_phone");
    expect(suggestKey("是否需要上门", dict)?.key).toBe("onsite");
    expect(suggestKey("所需技能", dict)).toMatchObject({ key: "required_skill", reserved: false });
  });

  it("returns null when nothing matches", () => {
    expect(suggestKey("振动幅度", dict)).toBeNull();
    expect(suggestKey("", dict)).toBeNull();
  });
});

describe("conditions", () => {
  it("writes equals for one value and in for several", async () => {
    const { toCondition, fromCondition, conditionHolds } = await import("./formDesigner");
    expect(toCondition({ field: "fault_type", values: ["电机异响"] })).toEqual({ field: "fault_type", equals: "电机异响" });
    expect(toCondition({ field: "visit", values: ["上门", "驻场"] })).toEqual({ field: "visit", in: ["上门", "驻场"] });
    expect(toCondition({ field: "visit", values: [] })).toBeNull();
    expect(fromCondition({ field: "onsite", equals: true })).toEqual({ field: "onsite", values: [true] });
    expect(conditionHolds({ field: "onsite", equals: true }, { onsite: true })).toBe(true);
    expect(conditionHolds({ field: "visit", in: ["上门"] }, { visit: "远程" })).toBe(false);
    expect(conditionHolds({ field: "tags", equals: "a" }, { tags: ["a", "b"] })).toBe(true);
    expect(conditionHolds(undefined, {})).toBe(true);
  });

  it("puts the condition in the fields JSON and checks it", () => {
    const s = [
      field({ key: "fault_type", label: "故障类型", type: "select", options: ["电机异响", "漏油"] }),
      field({ key: "vibration", label: "振动值", type: "number", required: true, when: { field: "fault_type", values: ["电机异响"] } }),
      field({ key: "a2", label: "x", when: { field: "fault_type", values: ["冒烟"] } }),
      field({ key: "a3", label: "y", when: { field: "nope", values: ["1"] } }),
      field({ key: "a4", label: "z", when: { field: "onsite_x", values: [] } }),
      field({ key: "a5", label: "w", when: { field: "customer_phone", values: ["1"] } }),
    ];
    expect(toFields(s)[1]).toEqual({ key: "vibration", label: "振动值", type: "number", required: true, when: { field: "fault_type", equals: "电机异响" } });
    const issues = validateFields(s);
    expect(issues.get(s[1].uid)).toBeUndefined();
    expect(issues.get(s[2].uid)?.map((i) => i.code)).toEqual(["when_option"]);
    expect(issues.get(s[3].uid)?.map((i) => i.code)).toEqual(["when_unknown"]);
    expect(issues.get(s[4].uid)?.map((i) => i.code)).toEqual(["when_unknown"]);
    expect(issues.get(s[5].uid)).toBeUndefined();
  });
});

describe("initial values", () => {
  it("fills reported_at with now, with the offset", async () => {
    const { initialValue, isoWithOffset } = await import("./formDesigner");
    const v = initialValue({ key: "reported_at", label: "报修时间", type: "datetime", required: true }) as string;
    expect(v).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    expect(Math.abs(Date.parse(v) - Date.now())).toBeLessThan(5000);
    expect(Date.parse(isoWithOffset(new Date("2026-11-25T02:00:00Z")))).toBe(Date.parse("2026-11-25T02:00:00Z"));
  });
});
