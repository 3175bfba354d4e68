// The preview hides a conditional field until its condition holds.
import { describe, expect, it } from "vitest";
import { nextTick, reactive } from "vue";
import { mount } from "@vue/test-utils";
import ElementPlus from "element-plus";
import { i18n } from "../i18n";
import FormRenderer from "./FormRenderer.vue";
import type { FormField } from "../api";

describe("FormRenderer", () => {
  it("shows a conditional field only when its condition holds", async () => {
    const fields: FormField[] = [
      { key: "fault_type", label: "故障类型", type: "select", required: true, options: ["电机异响", "漏油"] },
      { key: "vibration", label: "振动值", type: "number", required: true, when: { field: "fault_type", equals: "电机异响" } },
    ];
    const values = reactive<Record<string, unknown>>({ fault_type: "漏油" });
    const w = mount(FormRenderer, { props: { fields, modelValue: values }, global: { plugins: [i18n, ElementPlus] } });
    expect(w.find('[data-test="preview-vibration"]').exists()).toBe(false);
    values.fault_type = "电机异响";
    await nextTick();
    expect(w.find('[data-test="preview-vibration"]').exists()).toBe(true);
    expect(w.find('[data-test="preview-vibration"]').text()).toContain("振动值");
  });
});
