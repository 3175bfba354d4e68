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
