// Component test: the rules editor asks the server to check the text, lists the diagnostic
// at its line and column, and the one-click fix replaces the misspelt name.
import { describe, expect, it, vi } from "vitest";
import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import ElementPlus from "element-plus";
import { i18n } from "../i18n";

const SRC = 'ruleset "设备维修" for line repair\n\nsla P0 "停机类":\n    when 描述 has "停机" or falt_code in ["E-101"]\n    respond 30m\n    resolve 4h\n';

const { checkRules } = vi.hoisted(() => ({
  checkRules: vi.fn(async (_line: string, source: string) => {
    const i = source.indexOf("falt_code");
    if (i < 0) return { diagnostics: [] };
    const lineStart = source.lastIndexOf("\n", i) + 1;
    const line = source.slice(0, i).split("\n").length;
    const column = [...source.slice(lineStart, i)].length + 1;
    return {
      diagnostics: [{
        code: "E200", severity: "error", message_zh: "未知字段 falt_code", message_en: "unknown field falt_code",
        line, column, end_line: line, end_column: column + 9,
        suggestion: "你是想写 `fault_code` 吗？/ did you mean `fault_code`?",
      }],
    };
  }),
}));

vi.mock("../api", async (orig) => {
  const real = await orig<typeof import("../api")>();
  return {
    ...real,
    api: {
      ...real.api,
      listRules: vi.fn(async () => [{ version: 1, created_at: "2026-11-25T05:00:00+08:00", active: true }]),
      getRules: vi.fn(async () => ({ version: 1, source: SRC })),
      getForm: vi.fn(async () => ({ version: 1, fields: [] })),
      getStates: vi.fn(async () => null),
      checkRules,
    },
  };
});

// jsdom has no layout; CodeMirror measures text ranges.
if (!Range.prototype.getClientRects) {
  Range.prototype.getClientRects = () => ({ length: 0, item: () => null, [Symbol.iterator]: [][Symbol.iterator] }) as unknown as DOMRectList;
  Range.prototype.getBoundingClientRect = () => ({ x: 0, y: 0, width: 0, height: 0, top: 0, left: 0, right: 0, bottom: 0, toJSON: () => ({}) }) as DOMRect;
}

import RulesView from "./RulesView.vue";
import { useSession } from "../stores/session";

describe("RulesView", () => {
  it("shows the server's diagnostic at its position and applies the fix", async () => {
    const pinia = createPinia();
    setActivePinia(pinia);
    sessionStorage.clear();
    useSession().pickLine("repair");
    const w = mount(RulesView, { global: { plugins: [pinia, i18n, ElementPlus] }, attachTo: document.body });
    await flushPromises();
    await vi.waitFor(() => expect(w.find('[data-test="problem-list"]').exists()).toBe(true), { timeout: 3000 });
    expect(checkRules).toHaveBeenCalledWith("repair", SRC);
    const col = [...'    when 描述 has "停机" or '].length + 1;
    expect(w.find('[data-test="problem-list"]').text()).toContain(`4:${col}`);
    expect(w.find('[data-test="problem-list"]').text()).toContain("未知字段 falt_code");
    // The squiggle covers exactly the misspelt name.
    await vi.waitFor(() => expect(w.find(".cm-lintRange-error").exists()).toBe(true), { timeout: 3000 });
    expect(w.find(".cm-lintRange-error").text()).toBe("falt_code");

    await w.find('[data-test="problem-fix"]').trigger("click");
    await vi.waitFor(() => expect(w.find('[data-test="rules-ok"]').exists()).toBe(true), { timeout: 3000 });
    expect(w.find(".cm-content").text()).toContain('or fault_code in ["E-101"]');
    w.unmount();
  });
});
