// Server diagnostics (POST /api/lines/{line}/rules/check) as CodeMirror lint diagnostics:
// squiggles at the right range, the message in the chosen language with the other one
// beside it, and the "did you mean `x`?" suggestion as a one-click fix.

import type { Diagnostic as CmDiagnostic } from "@codemirror/lint";
import type { EditorView } from "@codemirror/view";
import type { Diagnostic } from "../api";
import { diagnosticRange, extractFix } from "./diagnostics";

export interface LintText {
  /** Label of the fix button, given the replacement. */
  fixLabel: (fix: string) => string;
  locale: "zh-CN" | "en";
}

function severity(s: string): CmDiagnostic["severity"] {
  return s === "error" ? "error" : s === "warning" ? "warning" : "info";
}

export function toCmDiagnostics(source: string, diags: Diagnostic[], text: LintText): CmDiagnostic[] {
  return diags.map((d) => {
    const { from, to } = diagnosticRange(source, d);
    const first = text.locale === "en" ? d.message_en : d.message_zh;
    const second = text.locale === "en" ? d.message_zh : d.message_en;
    const fix = extractFix(d.suggestion);
    const cm: CmDiagnostic = {
      from,
      to,
      severity: severity(d.severity),
      source: d.code,
      message: `${d.code} ${first}`,
      renderMessage: () => {
        const el = document.createElement("div");
        el.className = "cm-gd-msg";
        const main = document.createElement("div");
        main.textContent = `${d.code} ${first}`;
        const other = document.createElement("div");
        other.className = "cm-gd-other";
        other.textContent = second;
        el.append(main, other);
        if (d.suggestion) {
          const s = document.createElement("div");
          s.className = "cm-gd-suggest";
          s.textContent = d.suggestion;
          el.append(s);
        }
        return el;
      },
    };
    if (fix !== null) {
      cm.actions = [{
        name: text.fixLabel(fix),
        apply(view: EditorView, f: number, t: number) {
          view.dispatch({ changes: { from: f, to: t, insert: fix }, selection: { anchor: f + fix.length } });
        },
      }];
    }
    return cm;
  });
}
