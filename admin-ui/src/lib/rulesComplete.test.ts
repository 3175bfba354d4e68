import { describe, expect, it } from "vitest";
import { EditorState } from "@codemirror/state";
import { CompletionContext } from "@codemirror/autocomplete";
import { rulesCompletions } from "./rulesComplete";

const vocab = () => ({ fields: [{ key: "fault_code", label: "故障代码", type: "text" }], states: ["已派单", "诊断中"] });

function complete(doc: string, explicit = false) {
  const state = EditorState.create({ doc });
  return rulesCompletions(vocab)(new CompletionContext(state, doc.length, explicit));
}

describe("rules completions", () => {
  it("offers field keys with their labels, states and keywords", () => {
    const r = complete("sla P0:\n    when fau")!;
    expect(r.from).toBe("sla P0:\n    when ".length);
    const fc = r.options.find((o) => o.label === "fault_code")!;
    expect(fc.detail).toBe("故障代码 · text");
    expect(r.options.some((o) => o.label === "诊断中")).toBe(true);
    expect(r.options.some((o) => o.label === "require")).toBe(true);
  });

  it("completes Chinese names and stays quiet in strings and comments", () => {
    expect(complete("on scan_checkin: 已")?.from).toBe("on scan_checkin: ".length);
    expect(complete('when description has "停')).toBeNull();
    expect(complete("# a comment wo")).toBeNull();
  });
});
