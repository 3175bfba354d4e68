// Mapping the server's diagnostics onto the editor: 1-based line/column (counted in
// Unicode code points, as the Python checker counts them) to UTF-16 offsets, and the
// one-click fix taken from the suggestion text ("did you mean `x`?").

import type { Diagnostic as ServerDiagnostic } from "../api";

/** Start offsets (UTF-16) of every line of `source`; "\r\n" and "\n" both end a line. */
export function lineStarts(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/**
 * The UTF-16 offset of 1-based (line, column), column in code points. Out-of-range
 * positions are clamped to the document (a line past the end maps to its end; a column
 * past the line's end maps to the line's end, before its newline).
 */
export function positionToOffset(source: string, line: number, column: number, starts = lineStarts(source)): number {
  if (line < 1) return 0;
  if (line > starts.length) return source.length;
  const start = starts[line - 1];
  let end = line < starts.length ? starts[line] - 1 : source.length;
  if (end > start && source.charCodeAt(end - 1) === 13) end -= 1; // keep "\r" out of the range
  let off = start;
  for (let c = 1; c < column && off < end; c++) {
    const code = source.charCodeAt(off);
    off += code >= 0xd800 && code <= 0xdbff && off + 1 < end ? 2 : 1;
  }
  return off;
}

/** The {from, to} range of a diagnostic; never empty unless the document is. */
export function diagnosticRange(source: string, d: Pick<ServerDiagnostic, "line" | "column" | "end_line" | "end_column">): { from: number; to: number } {
  const starts = lineStarts(source);
  const from = positionToOffset(source, d.line, d.column, starts);
  let to = positionToOffset(source, d.end_line || d.line, d.end_column || d.column, starts);
  if (to < from) to = from;
  if (to === from) {
    // A zero-width diagnostic (e.g. "expected `:` here") underlines one character, or the
    // previous one at a line's end, so the squiggle can be seen.
    if (from < source.length && source[from] !== "\n") to = from + 1;
    else if (from > 0 && source[from - 1] !== "\n") return { from: from - 1, to: from };
  }
  return { from, to };
}

/**
 * The replacement text of a suggestion: the `x` in "did you mean `x`?" (the checker writes
 * "你是想写 `x` 吗？/ did you mean `x`?"); null when the suggestion is not a replacement.
 */
export function extractFix(suggestion: string | null | undefined): string | null {
  if (!suggestion) return null;
  const en = /did you mean\s+`([^`]+)`/i.exec(suggestion);
  if (en) return en[1];
  const zh = /你是想写\s*`([^`]+)`/.exec(suggestion);
  if (zh) return zh[1];
  return null;
}

/** The text once a fix is applied: the diagnostic's range replaced with `fix`. */
export function applyFix(source: string, d: ServerDiagnostic, fix: string): string {
  const { from, to } = diagnosticRange(source, d);
  return source.slice(0, from) + fix + source.slice(to);
}
