// A CodeMirror 6 stream language for `.rules` files (see docs/rules.md): keywords,
// strings, durations (30m, 1h30m), distances (5km), /regex/ after `matches`, `#` comments,
// Unicode (Chinese) identifiers, and the indentation Python-style blocks need.

import { HighlightStyle, StreamLanguage, StringStream, indentService, getIndentUnit, type StreamParser } from "@codemirror/language";
import { tags } from "@lezer/highlight";

export const BLOCK_KEYWORDS = [
  "ruleset", "for", "line", "sla", "route", "on", "dwell", "close", "requires", "archive", "example",
];
export const CLAUSE_KEYWORDS = [
  "when", "otherwise", "respond", "resolve", "calendar", "pause", "in", "bypass", "queue",
  "require", "score", "fatigue", "after", "same", "offer", "top", "if", "else", "claim",
  "within", "reoffer", "reoffers", "escalate", "then", "notify", "via", "template", "repeat",
  "every", "stage", "survey", "given", "expect", "tier", "state", "ok", "fails", "role",
];
export const OPERATOR_WORDS = ["and", "or", "not", "in", "has", "any", "all", "matches", "where"];
export const ATOMS = ["true", "false", "null"];
export const BUILTINS = ["count", "len", "lower", "min", "max", "abs", "hours_since", "exists"];
export const SCOPE_NAMES = ["ticket", "engineer", "customer", "distance", "skill_fit", "streak", "assignee", "supervisor"];

const KW = new Set([...BLOCK_KEYWORDS, ...CLAUSE_KEYWORDS]);
const OPW = new Set(OPERATOR_WORDS);
const ATOM = new Set(ATOMS);
const BUILTIN = new Set(BUILTINS);
const SCOPE = new Set(SCOPE_NAMES);

export interface RulesState {
  /** The previous significant token, to tell /regex/ from division. */
  prev: string;
}

const IDENT_START = /[\p{L}_]/u;
const IDENT = /^[\p{L}\p{N}_]+/u;

/** Tokenize one token; returns a CodeMirror highlighting tag name or null. */
function token(stream: StringStream, state: RulesState): string | null {
  if (stream.sol()) state.prev = "";
  if (stream.eatSpace()) return null;
  const ch = stream.peek() ?? "";
  if (ch === "#") {
    stream.skipToEnd();
    return "comment";
  }
  if (ch === '"') {
    stream.next();
    let escaped = false;
    let c: string | void;
    while ((c = stream.next()) != null) {
      if (c === '"' && !escaped) break;
      escaped = !escaped && c === "\\";
    }
    state.prev = "string";
    return "string";
  }
  if (ch === "/" && state.prev === "matches") {
    if (stream.match(/^\/(\\.|[^/\\\n])+\//)) {
      state.prev = "regex";
      return "regexp";
    }
  }
  if (stream.match(/^\d+(\.\d+)?km(?![\p{L}\p{N}_.])/u)) {
    state.prev = "distance";
    return "unit";
  }
  if (stream.match(/^(\d+(\.\d+)?[wdhms])+(?![\p{L}\p{N}_.])/u)) {
    state.prev = "duration";
    return "unit";
  }
  if (stream.match(/^\d+(\.\d+)?/)) {
    state.prev = "number";
    return "number";
  }
  if (IDENT_START.test(ch)) {
    const m = stream.match(IDENT) as RegExpMatchArray | null;
    const word = m ? m[0] : (stream.next() ?? "");
    state.prev = word;
    if (ATOM.has(word)) return "atom";
    if (OPW.has(word)) return "operatorKeyword";
    if (KW.has(word)) return "keyword";
    if (BUILTIN.has(word) && stream.peek() === "(") return "variableName.standard";
    if (SCOPE.has(word)) return "variableName.special";
    return "variableName";
  }
  if (stream.match(/^(==|!=|<=|>=|->|[<>+\-*/=])/)) {
    state.prev = "op";
    return "operator";
  }
  stream.next();
  state.prev = ch;
  return "punctuation";
}

export const rulesParser: StreamParser<RulesState> = {
  name: "rules",
  startState: () => ({ prev: "" }),
  copyState: (s) => ({ ...s }),
  token,
  languageData: { commentTokens: { line: "#" }, indentOnInput: /^\s*(else|or|and)\b/ },
};

/** The `.rules` language for CodeMirror. */
export const rulesLanguage = StreamLanguage.define(rulesParser);

/** Tokenize a whole source into [text, tag] pairs (used by tests). */
export function tokenize(source: string): [string, string | null][] {
  const out: [string, string | null][] = [];
  const state = rulesParser.startState!(2);
  for (const text of source.split("\n")) {
    const stream = new StringStream(text, 4, 4);
    while (!stream.eol()) {
      const tag = rulesParser.token(stream, state);
      out.push([text.slice(stream.start, stream.pos), tag]);
      stream.start = stream.pos;
    }
  }
  return out;
}

/** Python-like indentation: one unit more after a line ending in ":", else the previous line's. */
export const rulesIndent = indentService.of((cx, pos) => {
  const doc = cx.state.doc;
  let n = doc.lineAt(pos).number - 1;
  while (n >= 1 && !doc.line(n).text.replace(/#.*$/, "").trim()) n -= 1;
  if (n < 1) return 0;
  const text = doc.line(n).text;
  const base = /^\s*/.exec(text)![0].length;
  return text.replace(/#.*$/, "").trimEnd().endsWith(":") ? base + getIndentUnit(cx.state) : base;
});

/** Colours for `.rules`: blocks and clauses, text, durations/distances, regexes, scope names. */
export const rulesHighlight = HighlightStyle.define([
  { tag: tags.keyword, color: "#7c3aed", fontWeight: "600" },
  { tag: tags.operatorKeyword, color: "#9333ea" },
  { tag: tags.string, color: "#b45309" },
  { tag: tags.regexp, color: "#c2410c" },
  { tag: tags.unit, color: "#0f766e", fontWeight: "600" },
  { tag: tags.number, color: "#0f766e" },
  { tag: tags.atom, color: "#0369a1" },
  { tag: tags.comment, color: "#94a3b8", fontStyle: "italic" },
  { tag: tags.operator, color: "#475569" },
  { tag: tags.special(tags.variableName), color: "#2563eb" },
  { tag: tags.standard(tags.variableName), color: "#0891b2" },
  { tag: tags.variableName, color: "#1f2937" },
]);
