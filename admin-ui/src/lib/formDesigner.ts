// Pure logic of the form designer: the designer's state, its conversion to the fields JSON
// the server takes (`PUT /api/lines/{line}/form`), validation shown on each field before
// saving, and key suggestion from the field dictionary. No Vue here, so it is unit-tested.

import type { FieldCondition, FieldType, FieldValidation, FormField } from "../api";

export const FIELD_TYPES: FieldType[] = [
  "text", "textarea", "number", "bool", "select", "multiselect", "date", "datetime",
  "phone", "region", "location", "device_sn", "attachment", "signature",
];

/** Keys the platform puts on every form itself (DESIGN.md, base fields). */
export const RESERVED_KEYS = [
  "category", "title", "description", "customer_id", "customer_phone", "device_sn",
  "fault_code", "region", "location", "reported_at",
] as const;

export const KEY_PATTERN = /^[a-z][a-z0-9_]*$/;

export const OPTION_TYPES: FieldType[] = ["select", "multiselect"];

/** One field as the designer edits it; `uid` is stable while the key is being typed. */
export interface DesignerField {
  uid: string;
  key: string;
  label: string;
  type: FieldType;
  required: boolean;
  options: string[];
  help: string;
  default: unknown;
  validation: FieldValidation;
  when: DesignerCondition | null;
}

export type IssueProp = "key" | "label" | "options" | "default" | "validation" | "when";

/** The designer's form of a condition: `values` holds one value (equals) or several (in). */
export interface DesignerCondition {
  field: string;
  values: unknown[];
}

export interface Issue {
  prop: IssueProp;
  code: string;
  zh: string;
  en: string;
}

let uidCounter = 0;
function nextUid(): string {
  uidCounter += 1;
  return `f${Date.now().toString(36)}${uidCounter}`;
}

/** A fresh field of `type` whose key (`<type>_<n>`) is not used yet in `existing`. */
export function newField(type: FieldType, existing: DesignerField[] = [], label = ""): DesignerField {
  const used = new Set(existing.map((f) => f.key));
  let n = 1;
  while (used.has(`${type}_${n}`)) n += 1;
  return {
    uid: nextUid(),
    key: `${type}_${n}`,
    label,
    type,
    required: false,
    options: [],
    help: "",
    default: undefined,
    validation: {},
    when: null,
  };
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
}

function cleanValidation(type: FieldType, v: FieldValidation): FieldValidation | undefined {
  const out: FieldValidation = {};
  const num = (x: unknown) => typeof x === "number" && Number.isFinite(x);
  if (type === "number") {
    if (num(v.min)) out.min = v.min;
    if (num(v.max)) out.max = v.max;
  }
  if (type === "text" || type === "textarea" || type === "phone" || type === "device_sn") {
    if (num(v.min_length)) out.min_length = v.min_length;
    if (num(v.max_length)) out.max_length = v.max_length;
    if (v.pattern && v.pattern.trim()) out.pattern = v.pattern.trim();
  }
  return Object.keys(out).length ? out : undefined;
}

/** The designer's state as the fields JSON the server takes, in canvas order. */
export function toFields(state: DesignerField[]): FormField[] {
  return state.map((f) => {
    const out: FormField = { key: f.key.trim(), label: f.label.trim(), type: f.type, required: !!f.required };
    if (OPTION_TYPES.includes(f.type)) out.options = f.options.map((o) => o.trim()).filter((o) => o !== "");
    if (f.help.trim()) out.help = f.help.trim();
    if (!isEmpty(f.default)) out.default = f.default;
    const v = cleanValidation(f.type, f.validation);
    if (v) out.validation = v;
    const w = toCondition(f.when);
    if (w) out.when = w;
    return out;
  });
}

/**
 * The base fields of a stored form (as the platform has them, possibly with a line's own
 * label or options, e.g. `category` as a select). The designer sends them back unchanged so
 * saving a new version keeps them; the admin does not edit them on the canvas.
 */
export function baseFieldsOf(fields: FormField[]): FormField[] {
  return fields.filter((f) => (RESERVED_KEYS as readonly string[]).includes(f.key));
}

/** What `PUT .../form` gets: the stored base fields unchanged, then the canvas. */
export function formPayload(base: FormField[], state: DesignerField[]): FormField[] {
  return [...base, ...toFields(state)];
}

/** Designer state from a stored form (base fields are left out: the platform adds them). */
export function fromFields(fields: FormField[]): DesignerField[] {
  return fields
    .filter((f) => !(RESERVED_KEYS as readonly string[]).includes(f.key))
    .map((f) => ({
      uid: nextUid(),
      key: f.key,
      label: f.label ?? "",
      type: f.type,
      required: !!f.required,
      options: [...(f.options ?? [])],
      help: f.help ?? "",
      default: f.default,
      validation: { ...(f.validation ?? {}) },
      when: fromCondition(f.when),
    }));
}

/** `{field, equals}` for one value, `{field, in}` for several; null when incomplete. */
export function toCondition(w: DesignerCondition | null | undefined): FieldCondition | null {
  if (!w || !w.field) return null;
  const values = w.values.filter((x) => x !== "" && x !== undefined && x !== null);
  if (values.length === 0) return null;
  return values.length === 1 ? { field: w.field, equals: values[0] } : { field: w.field, in: values };
}

export function fromCondition(w: FieldCondition | null | undefined): DesignerCondition | null {
  if (!w || !w.field) return null;
  if (Array.isArray(w.in)) return { field: w.field, values: [...w.in] };
  return { field: w.field, values: w.equals === undefined ? [] : [w.equals] };
}

/** Whether a condition holds for the values filled so far (used by the preview). */
export function conditionHolds(w: FieldCondition | undefined, values: Record<string, unknown>): boolean {
  if (!w) return true;
  const v = values[w.field];
  const test = (x: unknown) => (Array.isArray(v) ? v.includes(x) : v === x);
  if (Array.isArray(w.in)) return w.in.some(test);
  return test(w.equals);
}

function issue(prop: IssueProp, code: string, zh: string, en: string): Issue {
  return { prop, code, zh, en };
}

function validateDefault(f: DesignerField, options: string[]): Issue | null {
  const d = f.default;
  if (isEmpty(d)) return null;
  switch (f.type) {
    case "number":
      if (typeof d !== "number" || !Number.isFinite(d)) return issue("default", "default_type", "默认值必须是数字", "the default must be a number");
      if (typeof f.validation.min === "number" && d < f.validation.min) return issue("default", "default_range", "默认值小于最小值", "the default is below the minimum");
      if (typeof f.validation.max === "number" && d > f.validation.max) return issue("default", "default_range", "默认值大于最大值", "the default is above the maximum");
      return null;
    case "bool":
      return typeof d === "boolean" ? null : issue("default", "default_type", "默认值必须是 是/否", "the default must be true or false");
    case "select":
      return options.includes(String(d)) ? null : issue("default", "default_option", `默认值“${String(d)}”不在选项中`, `the default "${String(d)}" is not one of the options`);
    case "multiselect": {
      const vals = Array.isArray(d) ? d.map(String) : [String(d)];
      const bad = vals.filter((x) => !options.includes(x));
      return bad.length ? issue("default", "default_option", `默认值“${bad.join("、")}”不在选项中`, `default ${bad.map((b) => `"${b}"`).join(", ")} not among the options`) : null;
    }
    default:
      return null;
  }
}

/** Every problem of every field, by uid; an empty map means the form can be saved. */
export function validateFields(state: DesignerField[]): Map<string, Issue[]> {
  const out = new Map<string, Issue[]>();
  const counts = new Map<string, number>();
  for (const f of state) counts.set(f.key.trim(), (counts.get(f.key.trim()) ?? 0) + 1);
  for (const f of state) {
    const list: Issue[] = [];
    const key = f.key.trim();
    if (!key) list.push(issue("key", "key_empty", "字段标识不能为空", "the key is empty"));
    else if (!KEY_PATTERN.test(key))
      list.push(issue("key", "key_invalid", "字段标识只能用小写字母、数字和下划线，且以字母开头", "the key must match ^[a-z][a-z0-9_]*$ (lower-case letters, digits, underscore; a letter first)"));
    else if ((RESERVED_KEYS as readonly string[]).includes(key))
      list.push(issue("key", "key_reserved", `“${key}”是平台基础字段，平台会自动添加，无需重复设计`, `"${key}" is a base field the platform adds to every form itself`));
    else if ((counts.get(key) ?? 0) > 1)
      list.push(issue("key", "key_duplicate", `字段标识“${key}”重复`, `the key "${key}" is used more than once`));
    if (!f.label.trim()) list.push(issue("label", "label_empty", "请填写字段名称", "the label is empty"));
    const options = f.options.map((o) => o.trim()).filter((o) => o !== "");
    if (OPTION_TYPES.includes(f.type)) {
      if (options.length === 0) list.push(issue("options", "options_empty", "下拉/多选字段至少需要一个选项", "a select needs at least one option"));
      else if (new Set(options).size !== options.length) list.push(issue("options", "options_duplicate", "选项有重复", "an option is listed twice"));
    }
    const v = f.validation;
    if (typeof v.min === "number" && typeof v.max === "number" && v.min > v.max)
      list.push(issue("validation", "range", "最小值大于最大值", "min is greater than max"));
    if (typeof v.min_length === "number" && typeof v.max_length === "number" && v.min_length > v.max_length)
      list.push(issue("validation", "length", "最小长度大于最大长度", "min length is greater than max length"));
    if (v.pattern) {
      try { new RegExp(v.pattern); } catch { list.push(issue("validation", "pattern", "正则表达式无效", "the regular expression is invalid")); }
    }
    const d = validateDefault(f, options);
    if (d) list.push(d);
    if (f.when && (f.when.field || f.when.values.length)) {
      const target = state.find((o) => o.key.trim() === f.when!.field);
      const known = target || (RESERVED_KEYS as readonly string[]).includes(f.when.field);
      if (!f.when.field || f.when.field === key)
        list.push(issue("when", "when_field", "请选择另一个字段作为条件", "pick another field for the condition"));
      else if (!known)
        list.push(issue("when", "when_unknown", `条件字段“${f.when.field}”不存在`, `the condition's field "${f.when.field}" does not exist`));
      else if (!toCondition(f.when))
        list.push(issue("when", "when_value", "请填写条件的取值", "give the condition a value"));
      else if (target && OPTION_TYPES.includes(target.type)) {
        const opts = target.options.map((o) => o.trim());
        const bad = f.when.values.filter((x) => !opts.includes(String(x)));
        if (bad.length) list.push(issue("when", "when_option", `条件取值“${bad.join("、")}”不在“${target.label}”的选项中`, `${bad.join(", ")} is not an option of ${target.key}`));
      }
    }
    if (list.length) out.set(f.uid, list);
  }
  return out;
}

/** Full-width to half-width, lower-case, without spaces and punctuation, for matching labels. */
export function normalizeLabel(s: string): string {
  return s
    .replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/\u3000/g, " ")
    .toLowerCase()
    .replace(/[\s_\-:：，,。.、（）()【】\[\]*＊?？!！]/g, "");
}

export interface KeySuggestion {
  key: string;
  /** The synonym (or canonical key) that matched. */
  matched: string;
  exact: boolean;
  reserved: boolean;
}

/**
 * The canonical key for a label, from the field dictionary ({key: [synonyms]}).
 * An exact synonym wins; otherwise the longest synonym contained in the label (or the
 * label contained in a synonym, for at least two characters).
 */
export function suggestKey(label: string, dictionary: Record<string, string[]>): KeySuggestion | null {
  const norm = normalizeLabel(label);
  if (!norm) return null;
  const reserved = (k: string) => (RESERVED_KEYS as readonly string[]).includes(k);
  let best: { key: string; matched: string; score: number } | null = null;
  for (const [key, synonyms] of Object.entries(dictionary)) {
    for (const syn of [key, ...synonyms]) {
      const s = normalizeLabel(syn);
      if (!s) continue;
      if (s === norm) return { key, matched: syn, exact: true, reserved: reserved(key) };
      let score = 0;
      if (norm.includes(s) && s.length >= 2) score = s.length;
      else if (s.includes(norm) && norm.length >= 2) score = norm.length - 0.5;
      if (score > 0 && (!best || score > best.score)) best = { key, matched: syn, score };
    }
  }
  return best ? { key: best.key, matched: best.matched, exact: false, reserved: reserved(best.key) } : null;
}

/** The base fields as the platform adds them (used when a form read back lacks them). */
export const BASE_FIELDS: FormField[] = [
  { key: "category", label: "类别", type: "text", required: true },
  { key: "title", label: "标题", type: "text", required: true },
  { key: "description", label: "问题描述", type: "textarea", required: true },
  { key: "customer_id", label: "客户编号", type: "text", required: true },
  { key: "customer_phone", label: "客户电话", type: "phone", required: true },
  { key: "device_sn", label: "设备序列号", type: "device_sn", required: true },
  { key: "fault_code", label: "故障代码", type: "text", required: true },
  { key: "region", label: "行政区划", type: "region", required: true },
  { key: "location", label: "位置", type: "location", required: true },
  { key: "reported_at", label: "报修时间", type: "datetime", required: true },
];

/** Base fields first (as the platform has them, else the built-in list), then the line's own. */
export function withBaseFields(fields: FormField[]): FormField[] {
  const have = new Set(fields.map((f) => f.key));
  const base = BASE_FIELDS.filter((b) => !have.has(b.key));
  return [...base, ...fields];
}

/** Used when `GET /api/field-dictionary` is not available: the base fields' synonyms. */
export const FALLBACK_DICTIONARY: Record<string, string[]> = {
  customer_phone: ["客户电话", "联系电话", "手机号", "电话"],
  customer_id: ["客户编号", "客户ID", "客户号"],
  device_sn: ["设备序列号", "序列号", "设备编号", "SN"],
  fault_code: ["故障代码", "故障码", "错误代码"],
  region: ["行政区划", "区域代码", "地区"],
  location: ["位置", "坐标", "定位"],
  reported_at: ["报修时间", "报告时间", "上报时间"],
  description: ["问题描述", "故障描述", "描述"],
  title: ["标题", "主题"],
  category: ["类别", "分类", "工单类型"],
};

/** A value to start a preview or a hand-filled ticket with: the field's default, else empty. */
export function initialValue(f: FormField, now: Date = new Date()): unknown {
  if (f.default !== undefined) return f.default;
  if (f.key === "reported_at") return isoWithOffset(now);
  switch (f.type) {
    case "bool": return false;
    case "multiselect": return [];
    case "number": return undefined;
    case "location": return { lat: undefined, lon: undefined };
    case "attachment": return [];
    default: return "";
  }
}

/** A hand-filled ticket without the empty values (so optional fields are simply absent). */
export function compactTicket(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (Object.values(o).every((x) => x === undefined || x === null || x === "")) continue;
    }
    out[k] = v;
  }
  return out;
}

/** ISO 8601 to the second with the browser's offset: 2026-11-25T10:00:00+08:00. */
export function isoWithOffset(d: Date): string {
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(off / 60)}:${pad(off % 60)}`;
}
