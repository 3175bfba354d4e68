import { describe, expect, it } from "vitest";
import { applyFix, diagnosticRange, extractFix, positionToOffset } from "./diagnostics";
import type { Diagnostic } from "../api";

const src = [
  'ruleset "设备维修" for line repair',
  "sla P0 \"停机类\":",
  '    when 描述 has "停机" or falt_code in ["E-101"]',
  "    respond 30m",
].join("\n");

function diag(line: number, column: number, end_line: number, end_column: number, suggestion: string | null = null): Diagnostic {
  return { code: "E200", severity: "error", message_zh: "未知字段", message_en: "unknown field", line, column, end_line, end_column, suggestion };
}

describe("positionToOffset", () => {
  it("maps 1-based line/column over Chinese text", () => {
    const line3 = src.indexOf("    when");
    expect(positionToOffset(src, 1, 1)).toBe(0);
    expect(positionToOffset(src, 3, 1)).toBe(line3);
    // "    when 描述 has "停机" or " is 25 code points; falt_code starts at column 26.
    const col = [...'    when 描述 has "停机" or '].length + 1;
    expect(src.slice(positionToOffset(src, 3, col), positionToOffset(src, 3, col + 9))).toBe("falt_code");
  });

  it("counts astral characters as one column", () => {
    const s = 'stage 📷: x == "a"';
    const off = positionToOffset(s, 1, 10);
    expect(s.slice(off, off + 1)).toBe("x");
  });

  it("clamps past the end of a line or the document", () => {
    expect(positionToOffset(src, 1, 999)).toBe(src.indexOf("\n"));
    expect(positionToOffset(src, 99, 1)).toBe(src.length);
    expect(positionToOffset("a\r\nb", 1, 9)).toBe(1);
  });
});

describe("diagnosticRange", () => {
  it("covers the span, end exclusive", () => {
    const col = [...'    when 描述 has "停机" or '].length + 1;
    const r = diagnosticRange(src, diag(3, col, 3, col + 9));
    expect(src.slice(r.from, r.to)).toBe("falt_code");
  });

  it("widens a zero-width span to one character", () => {
    const r = diagnosticRange(src, diag(2, 5, 2, 5));
    expect(r.to - r.from).toBe(1);
    const end = diagnosticRange(src, diag(1, 999, 1, 999));
    expect(src.slice(end.from, end.to)).toBe("r");
  });
});

describe("extractFix", () => {
  it("takes the name from the checker's bilingual suggestion", () => {
    expect(extractFix("你是想写 `fault_code` 吗？/ did you mean `fault_code`?")).toBe("fault_code");
    expect(extractFix("did you mean `诊断中`?")).toBe("诊断中");
    expect(extractFix("你是想写 `P1` 吗？")).toBe("P1");
  });

  it("returns null for advice that is not a replacement", () => {
    expect(extractFix(null)).toBeNull();
    expect(extractFix("add an `otherwise` tier")).toBeNull();
  });

  it("applies the fix over the diagnostic's range", () => {
    const col = [...'    when 描述 has "停机" or '].length + 1;
    const fixed = applyFix(src, diag(3, col, 3, col + 9), "fault_code");
    expect(fixed.split("\n")[2]).toBe('    when 描述 has "停机" or fault_code in ["E-101"]');
  });
});
