// Completions for the rules editor: the line's field keys (with their labels), states,
// keywords, functions and scope names, so an admin need not remember the exact keys.
import type { Completion, CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import { BLOCK_KEYWORDS, BUILTINS, CLAUSE_KEYWORDS, OPERATOR_WORDS, SCOPE_NAMES } from "./rulesLang";

export interface RulesVocabulary {
  fields: { key: string; label?: string; type?: string }[];
  states: string[];
}

export function rulesCompletions(vocab: () => RulesVocabulary) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const word = ctx.matchBefore(/[\p{L}_][\p{L}\p{N}_]*/u);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    // Not inside a comment or a string.
    const line = ctx.state.doc.lineAt(ctx.pos);
    const before = line.text.slice(0, ctx.pos - line.from);
    if (before.includes("#") || (before.split('"').length - 1) % 2 === 1) return null;
    const v = vocab();
    const options: Completion[] = [
      ...v.fields.map((f) => ({ label: f.key, detail: f.label ? `${f.label}${f.type ? ` · ${f.type}` : ""}` : f.type, type: "property", boost: 3 })),
      ...v.states.map((s) => ({ label: s, detail: "state", type: "enum", boost: 2 })),
      ...[...BLOCK_KEYWORDS, ...CLAUSE_KEYWORDS, ...OPERATOR_WORDS].map((k) => ({ label: k, type: "keyword" })),
      ...BUILTINS.map((b) => ({ label: b, type: "function", apply: `${b}(` })),
      ...SCOPE_NAMES.map((s) => ({ label: s, type: "variable", boost: 1 })),
    ];
    // One entry a label (a state and a field may share a name).
    const seen = new Set<string>();
    return { from: word.from, options: options.filter((o) => !seen.has(o.label) && seen.add(o.label)), validFor: /^[\p{L}\p{N}_]*$/u };
  };
}
