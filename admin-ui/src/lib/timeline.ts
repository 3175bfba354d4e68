// Reading a ticket's events: a name for each event type and a short "what changed".
import { formatValue } from "./dispatch";

const EVENT_NAMES: Record<string, [string, string]> = {
  created: ["创建", "created"],
  updated: ["修改字段", "fields updated"],
  classified: ["定级", "classified"],
  reclassified: ["重新定级", "reclassified"],
  moved: ["状态变更", "moved"],
  state_changed: ["状态变更", "state changed"],
  fields_changed: ["修改字段", "fields changed"],
  sla_changed: ["等级变更", "SLA changed"],
  assigned: ["分配", "assigned"],
  offered: ["派单", "offered"],
  claimed: ["接单", "claimed"],
  declined: ["拒单", "declined"],
  released: ["退回", "released"],
  reassigned: ["改派", "reassigned"],
  transferred: ["转派", "transferred"],
  escalated: ["升级", "escalated"],
  scan_checkin: ["扫码签到", "QR check-in"],
  photo: ["拍照", "photo"],
  parts_request: ["申请备件", "parts request"],
  parts_issued: ["备件出库", "parts issued"],
  approval_passed: ["审批通过", "approval passed"],
  voice_note: ["语音备注", "voice note"],
  customer_confirmed: ["客户确认", "customer confirmed"],
  closed: ["结案", "closed"],
  reopened: ["重开", "reopened"],
};

export function eventName(type: string, locale: string): string {
  const n = EVENT_NAMES[type];
  return n ? (locale === "en" ? n[1] : n[0]) : type;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * What an event changed, as "key: before → after" lines. Nested `fields` maps are compared
 * key by key; a whole new field map (a ticket's creation) is summarised, not dumped.
 */
export function describeChange(
  before: unknown,
  after: unknown,
  label: (k: string) => string = (k) => k,
  value: (k: string, v: unknown) => string = (_k, v) => formatValue(v),
): string[] {
  if (!isObj(before) && !isObj(after)) {
    if (before == null && after == null) return [];
    if (before == null) return [formatValue(after)];
    return [`${formatValue(before)} → ${formatValue(after)}`];
  }
  const b = isObj(before) ? before : {};
  const a = isObj(after) ? after : {};
  const out: string[] = [];
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    const bv = b[k];
    const av = a[k];
    if (JSON.stringify(bv) === JSON.stringify(av)) continue;
    if (k === "fields" && (isObj(bv) || isObj(av))) {
      if (!isObj(bv)) {
        out.push(`${label("fields")}: ${Object.keys(av as Obj).length}`);
        continue;
      }
      out.push(...describeChange(bv, av, label, value));
      continue;
    }
    if (isObj(av) && "tier" in av) {
      out.push(`${label(k)}: ${formatValue(isObj(bv) ? bv.tier : bv)} → ${formatValue(av.tier)}`.replace(/^(.*): — → /, "$1: "));
      continue;
    }
    if (bv === undefined || bv === null) out.push(`${label(k)}: ${value(k, av)}`);
    else out.push(`${label(k)}: ${value(k, bv)} → ${value(k, av)}`);
  }
  return out;
}
