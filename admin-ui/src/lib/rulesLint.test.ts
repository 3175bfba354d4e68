import { describe, expect, it } from "vitest";
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { toCmDiagnostics } from "./rulesLint";
import type { Diagnostic } from "../api";

const src = 'sla P0 "停机类":\n    when 描述 has "停机" or falt_code in ["E-101"]\n';
const col = [...'    when 描述 has "停机" or '].length + 1;
const d: Diagnostic = {
  code: "E200", severity: "error", message_zh: "未知字段 falt_code", message_en: "unknown field falt_code",
  line: 2, column: col, end_line: 2, end_column: col + 9,
  suggestion: "你是想写 `fault_code` 吗？/ did you mean `fault_code`?",
};

describe("toCmDiagnostics", () => {
  it("puts the Chinese message at the right range with a fix", () => {
    const [cm] = toCmDiagnostics(src, [d], { fixLabel: (f) => `改为 ${f}`, locale: "zh-CN" });
    expect(src.slice(cm.from, cm.to)).toBe("falt_code");
    expect(cm.severity).toBe("error");
    expect(cm.message).toBe("E200 未知字段 falt_code");
    expect(cm.actions?.[0].name).toBe("改为 fault_code");
    const el = cm.renderMessage!(null as unknown as EditorView) as HTMLElement;
    expect(el.textContent).toContain("unknown field falt_code");
  });

  it("applies the fix in the editor", () => {
    const view = new EditorView({ state: EditorState.create({ doc: src }) });
    const [cm] = toCmDiagnostics(src, [d], { fixLabel: (f) => f, locale: "en" });
    expect(cm.message).toBe("E200 unknown field falt_code");
    cm.actions![0].apply(view, cm.from, cm.to);
    expect(view.state.doc.line(2).text).toBe('    when 描述 has "停机" or fault_code in ["E-101"]');
    view.destroy();
  });

  it("offers no fix when the suggestion is not a replacement", () => {
    const [cm] = toCmDiagnostics(src, [{ ...d, suggestion: null, severity: "warning" }], { fixLabel: (f) => f, locale: "zh-CN" });
    expect(cm.actions).toBeUndefined();
    expect(cm.severity).toBe("warning");
  });
});
