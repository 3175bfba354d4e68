// Component test: the designer turns palette clicks and property edits into the fields
// JSON it sends to `PUT /api/lines/{line}/form`, and refuses to save with errors.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { flushPromises, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import ElementPlus from "element-plus";
import { i18n } from "../i18n";

const { saveForm } = vi.hoisted(() => ({ saveForm: vi.fn(async (_line: string, fields: unknown[]) => ({ version: 2, fields })) }));
vi.mock("../api", async (orig) => {
  const real = await orig<typeof import("../api")>();
  return {
    ...real,
    api: {
      ...real.api,
      getForm: vi.fn(async () => ({ version: 1, fields: [] as unknown[] })),
      fieldDictionary: vi.fn(async () => ({ customer_phone: ["客户电话", "联系电话", "手机号"], vibration_mm_s: ["振动值", "振动速度"] })),
      saveForm,
    },
  };
});

import FormDesignerView from "./FormDesignerView.vue";
import { useSession } from "../stores/session";

async function mountDesigner() {
  const pinia = createPinia();
  setActivePinia(pinia);
  useSession().pickLine("repair");
  const w = mount(FormDesignerView, { global: { plugins: [pinia, i18n, ElementPlus] }, attachTo: document.body });
  await flushPromises();
  return w;
}

async function typeInto(w: ReturnType<typeof mount>, test: string, value: string) {
  const el = w.find(`[data-test="${test}"] input, [data-test="${test}"] textarea, input[data-test="${test}"], textarea[data-test="${test}"]`);
  await el.setValue(value);
}

describe("FormDesignerView", () => {
  beforeEach(() => {
    saveForm.mockClear();
    localStorage.clear();
  });

  it("builds the fields JSON from the palette and the property panel", async () => {
    const w = await mountDesigner();
    await w.find('[data-test="palette-number"]').trigger("click");
    await typeInto(w, "prop-label", "振动值");
    // The dictionary proposes the canonical key; the admin takes it.
    expect(w.find('[data-test="key-suggestion"]').text()).toContain("vibration_mm_s");
    await w.find('[data-test="use-suggestion"]').trigger("click");

    await w.find('[data-test="palette-select"]').trigger("click");
    await typeInto(w, "prop-label", "是否上门");
    await typeInto(w, "prop-key", "visit_mode");
    await typeInto(w, "prop-options", "上门\n远程");

    await w.find('[data-test="palette-textarea"]').trigger("click");
    await typeInto(w, "prop-label", "备注");
    await typeInto(w, "prop-help", "可选");

    await w.find('[data-test="save-form"]').trigger("click");
    await flushPromises();
    expect(saveForm).toHaveBeenCalledTimes(1);
    expect(saveForm.mock.calls[0][0]).toBe("repair");
    expect(saveForm.mock.calls[0][1]).toEqual([
      { key: "vibration_mm_s", label: "振动值", type: "number", required: false },
      { key: "visit_mode", label: "是否上门", type: "select", required: false, options: ["上门", "远程"] },
      { key: "textarea_1", label: "备注", type: "textarea", required: false, help: "可选" },
    ]);
    w.unmount();
  });

  it("shows errors on the field and does not save", async () => {
    const w = await mountDesigner();
    await w.find('[data-test="palette-select"]').trigger("click");
    await typeInto(w, "prop-label", "联系电话");
    // 联系电话 proposes customer_phone, a base field the platform adds itself.
    expect(w.find('[data-test="key-suggestion"]').text()).toContain("customer_phone");
    await w.find('[data-test="use-suggestion"]').trigger("click");
    await w.find('[data-test="palette-text"]').trigger("click");
    await typeInto(w, "prop-label", "型号");
    await typeInto(w, "prop-key", "select_1");
    await w.find('[data-test="palette-text"]').trigger("click");
    await typeInto(w, "prop-label", "型号2");
    await typeInto(w, "prop-key", "select_1");

    const errors = w.findAll('[data-test="field-error"]').map((e) => e.text());
    expect(errors.some((e) => e.includes("平台基础字段"))).toBe(true);
    expect(errors.some((e) => e.includes("至少需要一个选项"))).toBe(true);
    expect(errors.filter((e) => e.includes("“select_1”重复")).length).toBe(2);

    await w.find('[data-test="save-form"]').trigger("click");
    await flushPromises();
    expect(saveForm).not.toHaveBeenCalled();
    w.unmount();
  });
});

describe("FormDesignerView reordering", () => {
  it("moves a field down without dragging", async () => {
    saveForm.mockClear();
    const w = await mountDesigner();
    await w.find('[data-test="palette-text"]').trigger("click");
    await typeInto(w, "prop-label", "甲");
    await w.find('[data-test="palette-number"]').trigger("click");
    await typeInto(w, "prop-label", "乙");
    await w.find('[data-test="down-text_1"]').trigger("click");
    await w.find('[data-test="save-form"]').trigger("click");
    await flushPromises();
    expect((saveForm.mock.calls[0][1] as { key: string }[]).map((f) => f.key)).toEqual(["number_1", "text_1"]);
    w.unmount();
  });
});

describe("FormDesignerView with a stored form", () => {
  it("keeps the stored base fields and conditions when saving a new version", async () => {
    const { api } = await import("../api");
    const stored = [
      { key: "category", label: "类别", type: "select", required: true, options: ["设备维修", "保养"] },
      { key: "title", label: "标题", type: "text", required: true },
      { key: "fault_type", label: "故障类型", type: "select", required: false, options: ["电机异响", "漏油"] },
      { key: "vibration", label: "振动", type: "number", required: false, when: { field: "fault_type", equals: "电机异响" } },
    ];
    vi.mocked(api.getForm).mockResolvedValueOnce({ version: 3, fields: stored as never });
    saveForm.mockClear();
    const w = await mountDesigner();
    expect(w.findAll(".canvas-item").length).toBe(2);
    await w.find('[data-test="save-form"]').trigger("click");
    await flushPromises();
    expect(saveForm.mock.calls[0][1]).toEqual(stored);
    w.unmount();
  });
});
