// Board logic: columns by state, and which tickets are overdue.
import type { Ticket } from "../api";

export interface StateDef { key: string; label?: string; category?: "open" | "pending" | "closed" | string }

/** A ticket is overdue when it is not closed and a deadline it still has to meet is past. */
export function isOverdue(t: Ticket, now: Date, closed: Set<string>): boolean {
  if (closed.has(t.state) || t.state_category === "closed") return false;
  const past = (s: string | null | undefined) => !!s && new Date(s).getTime() < now.getTime();
  if (past(t.sla?.resolve_by)) return true;
  return !t.assignee && past(t.sla?.respond_by);
}

/** Columns: the line's states in their order, then any other state a ticket is in. */
export function columns(states: StateDef[], tickets: Ticket[]): { state: StateDef; tickets: Ticket[] }[] {
  const defs = [...states];
  for (const t of tickets) if (!defs.some((s) => s.key === t.state)) defs.push({ key: t.state });
  return defs.map((s) => ({ state: s, tickets: tickets.filter((t) => t.state === s.key) }));
}

const TIER_ORDER = (tier: string | null | undefined) => {
  const m = /^P(\d+)$/i.exec(tier ?? "");
  return m ? Number(m[1]) : 99;
};

/** Most urgent first: tier, then the nearest resolve-by, then the number. */
export function byUrgency(a: Ticket, b: Ticket): number {
  const d = TIER_ORDER(a.sla?.tier) - TIER_ORDER(b.sla?.tier);
  if (d) return d;
  const ra = a.sla?.resolve_by ? Date.parse(a.sla.resolve_by) : Infinity;
  const rb = b.sla?.resolve_by ? Date.parse(b.sla.resolve_by) : Infinity;
  if (ra !== rb) return ra - rb;
  return String(a.number).localeCompare(String(b.number));
}

/** The states a ticket may move to from `from` (`*` as a from-state means any). */
export function allowedMoves(transitions: [string, string][] | undefined, from: string): string[] {
  const out: string[] = [];
  for (const [a, b] of transitions ?? []) if ((a === from || a === "*") && b !== from && !out.includes(b)) out.push(b);
  return out;
}
