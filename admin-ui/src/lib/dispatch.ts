// Helpers for showing a RouteDecision: candidate order, factor columns, value formatting.
import type { Candidate, RouteDecision } from "../api";

/** Ranked candidates first (by rank), then the rejected ones (by id). */
export function orderCandidates(c: Candidate[]): Candidate[] {
  return [...c].sort((a, b) => {
    const ra = a.rank ?? Number.POSITIVE_INFINITY;
    const rb = b.rank ?? Number.POSITIVE_INFINITY;
    if (ra !== rb) return ra - rb;
    return String(a.engineer_id).localeCompare(String(b.engineer_id));
  });
}

/** Every factor name that appears in any candidate, in first-seen order. */
export function factorNames(d: RouteDecision | null | undefined): string[] {
  const names: string[] = [];
  for (const c of d?.candidates ?? []) for (const k of Object.keys(c.factors ?? {})) if (!names.includes(k)) names.push(k);
  return names;
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  if (typeof v === "boolean") return v ? "✓" : "✗";
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.map(formatValue).join("、");
  const o = v as Record<string, unknown>;
  if (typeof o.lat === "number" && typeof o.lon === "number") return `${o.lat.toFixed(4)}, ${o.lon.toFixed(4)}`;
  return JSON.stringify(v);
}

/** Seconds as a rules-style duration: 5400 -> "1h30m", 86400 -> "1d". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return "0m";
  const units: [string, number][] = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];
  let rest = Math.round(seconds);
  let out = "";
  for (const [u, n] of units) {
    const q = Math.floor(rest / n);
    if (q) out += `${q}${u}`;
    rest -= q * n;
  }
  return out;
}

export interface WhyText { zh: string; en: string }

/**
 * Why engineer `a` ranks above `b` in a decision, in words: the `require` that rejected `b`,
 * or the score difference and the factors that made it (largest gap first).
 */
export function whyAbove(d: RouteDecision, a: string, b: string, name: (id: string) => string = (x) => x): WhyText | null {
  const ca = d.candidates.find((c) => String(c.engineer_id) === a);
  const cb = d.candidates.find((c) => String(c.engineer_id) === b);
  if (!ca || !cb || a === b) return null;
  const na = name(a);
  const nb = name(b);
  if (ca.rejected_by && cb.rejected_by)
    return { zh: `${na} 和 ${nb} 都被排除：${na} 不满足 \`${ca.rejected_by}\`，${nb} 不满足 \`${cb.rejected_by}\`。`, en: `Both were rejected: ${na} by \`${ca.rejected_by}\`, ${nb} by \`${cb.rejected_by}\`.` };
  if (ca.rejected_by) return whyAbove(d, b, a, name);
  if (cb.rejected_by) {
    const vals = Object.entries(cb.factors ?? {}).map(([k, v]) => `${k} = ${formatValue(v)}`).join(", ");
    return {
      zh: `${nb} 没有进入候选：不满足 \`${cb.rejected_by}\`${vals ? `（${vals}）` : ""}；${na} 满足所有条件，排第 ${ca.rank ?? "—"}。`,
      en: `${nb} was not a candidate: \`${cb.rejected_by}\` does not hold${vals ? ` (${vals})` : ""}; ${na} passed every require and ranks ${ca.rank ?? "—"}.`,
    };
  }
  const sa = ca.score ?? 0;
  const sb = cb.score ?? 0;
  const diffs = Object.keys({ ...ca.factors, ...cb.factors })
    .map((k) => ({ k, va: ca.factors?.[k], vb: cb.factors?.[k] }))
    .filter((x) => typeof x.va === "number" && typeof x.vb === "number" && x.va !== x.vb)
    .sort((x, y) => Math.abs((y.va as number) - (y.vb as number)) - Math.abs((x.va as number) - (x.vb as number)))
    .slice(0, 3);
  const list = diffs.map((x) => `${x.k}: ${formatValue(x.va)} vs ${formatValue(x.vb)}`).join("; ");
  if (sa === sb) {
    return {
      zh: `${na} 与 ${nb} 得分相同（${formatValue(sa)}），按负载、空闲时长、编号依次决出先后。`,
      en: `${na} and ${nb} have the same score (${formatValue(sa)}); load, idle time and id break the tie.`,
    };
  }
  return {
    zh: `${na} 得分 ${formatValue(sa)}，高于 ${nb} 的 ${formatValue(sb)}${list ? `；差别最大的是 ${list}` : ""}。`,
    en: `${na} scores ${formatValue(sa)}, above ${nb}'s ${formatValue(sb)}${list ? `; the largest differences: ${list}` : ""}.`,
  };
}

/** Why a ticket got its SLA tier, in the UI's language, from whichever shape the server
 * sends: `why_zh`/`why_en` beside the tier, `why` as a string, as `{zh, en}` or
 * `{why_zh, why_en}`, or as a list of such. Empty when there is no reason. */
export function slaWhy(sla: Record<string, unknown> | null | undefined, locale: string): string {
  if (!sla) return "";
  const en = locale.startsWith("en");
  const pick = (zh: unknown, enText: unknown): string => {
    const first = en ? enText : zh;
    const other = en ? zh : enText;
    if (typeof first === "string" && first) return first;
    return typeof other === "string" ? other : "";
  };
  const fromFlat = pick(sla.why_zh, sla.why_en);
  if (fromFlat) return fromFlat;
  const one = (w: unknown): string => {
    if (w === null || w === undefined || w === "") return "";
    if (typeof w === "string") return w;
    if (Array.isArray(w)) return w.map(one).filter(Boolean).join("；");
    if (typeof w === "object") {
      const o = w as Record<string, unknown>;
      const text = pick(o.zh ?? o.why_zh ?? o.message_zh, o.en ?? o.why_en ?? o.message_en);
      if (text) return text;
    }
    return formatValue(w);
  };
  return one(sla.why);
}
