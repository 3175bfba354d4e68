// The one module that talks to the gongdan server. Every call sends the stored token as
// `Authorization: Bearer <token>`; every error becomes an ApiError with both languages.

export const TOKEN_KEY = "gongdan.token";

export type FieldType =
  | "text" | "textarea" | "number" | "bool" | "select" | "multiselect" | "date"
  | "datetime" | "phone" | "region" | "location" | "device_sn" | "attachment" | "signature";

export interface FieldValidation {
  min?: number;
  max?: number;
  min_length?: number;
  max_length?: number;
  pattern?: string;
}

/** Show (and require) a field only when another field equals a value or is one of several. */
export interface FieldCondition {
  field: string;
  equals?: unknown;
  in?: unknown[];
}

/** One form field as `PUT /api/lines/{line}/form` takes it. */
export interface FormField {
  key: string;
  label: string;
  type: FieldType;
  required: boolean;
  options?: string[];
  help?: string;
  default?: unknown;
  validation?: FieldValidation;
  when?: FieldCondition;
}

export interface FormDoc {
  version?: number;
  fields: FormField[];
  schema?: unknown;
}

export interface Line { key: string; name: string; form_version?: number | null; rules_version?: number | null }

export interface Diagnostic {
  code: string;
  severity: "error" | "warning" | string;
  message_zh: string;
  message_en: string;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  suggestion?: string | null;
}

export interface RulesVersion { version: number; created_at: string; active: boolean }

export interface Sla { tier: string | null; respond_by?: string | null; resolve_by?: string | null; why?: unknown; why_zh?: string; why_en?: string; label?: string }

export interface Candidate {
  engineer_id: string;
  name?: string;
  score: number | null;
  factors: Record<string, unknown>;
  rejected_by: string | null;
  rank: number | null;
}

export interface RouteDecision {
  pool: string | null;
  tier?: string | null;
  offered: string[];
  candidates: Candidate[];
  created_at?: string;
  /** The decision in words (gongdan_rules.explain.summary), when the server sends it. */
  summary?: { zh: string; en: string } | string | null;
  /** The same sentence as the dry-run endpoint sends it. */
  summary_zh?: string;
  summary_en?: string;
}

export interface Ticket {
  id: string | number;
  number: string;
  line: string;
  state: string;
  /** open | pending | closed, from the line's state machine. */
  state_category?: string | null;
  fields: Record<string, unknown>;
  sla?: Sla | null;
  assignee?: string | null;
  version: number;
  created_at?: string;
}

export interface TimelineEvent {
  seq: number;
  type: string;
  at: string;
  actor: string | null;
  channel: string;
  before?: unknown;
  after?: unknown;
}

export interface Engineer {
  id: string;
  name: string;
  team?: string | null;
  skills: Record<string, number>;
  load: number;
  max_load: number;
  on_shift: boolean;
  region?: string | null;
  phone?: string | null;
}

export interface ImportResult { imported: number; errors?: { row: number; message_zh: string; message_en: string }[] }

/** `name` is what the server sends; `user` is accepted too. */
export interface Me { name?: string; user?: string; role: string; may?: string[] }

export interface RulesComparison {
  a: number;
  b: number;
  diff: string;
  replayed: number;
  tier_changes: { number: string; tier_a: string | null; tier_b: string | null }[];
}

export type TicketQuery = { line?: string; state?: string; tier?: string; assignee?: string; q?: string; overdue?: boolean };

export type TicketPage = { items: Ticket[]; more: boolean; total?: number };

export interface ErrorExtra { key: string; message_zh: string; message_en: string; row?: number }

/** An HTTP error in the platform's one error shape. */
export class ApiError extends Error {
  status: number;
  message_zh: string;
  message_en: string;
  extra: ErrorExtra[];
  body: unknown;
  constructor(status: number, body: Record<string, unknown> | null) {
    const zh = (body?.message_zh as string) ?? `请求失败（${status}）`;
    const en = (body?.message_en as string) ?? `request failed (${status})`;
    super(en);
    this.status = status;
    this.message_zh = zh;
    this.message_en = en;
    this.extra = (body?.extra as ErrorExtra[]) ?? [];
    this.body = body;
  }
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** The diagnostics a 422 carries (`{diagnostics}` or `{data: {diagnostics}}`), if any. */
export function errorDiagnostics(e: unknown): Diagnostic[] | null {
  if (!(e instanceof ApiError)) return null;
  const b = e.body as { diagnostics?: unknown; data?: { diagnostics?: unknown } } | null;
  const d = b?.diagnostics ?? b?.data?.diagnostics;
  return Array.isArray(d) ? (d as Diagnostic[]) : null;
}

/** Listeners told when the server answers 401 (the shell sends the user to sign-in). */
export const unauthorizedListeners = new Set<() => void>();

async function request<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers: { ...headers, ...(init.headers as Record<string, string>) }, body: payload });
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { message_en: text, message_zh: text }; }
  }
  if (!res.ok) {
    if (res.status === 401) unauthorizedListeners.forEach((f) => f());
    // 422 from PUT .../rules carries diagnostics; callers read them from `body`.
    throw new ApiError(res.status, (data as Record<string, unknown>) ?? null);
  }
  return data as T;
}

function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

const enc = encodeURIComponent;

/** Lists may come bare or wrapped ({items: [...]}, {lines: [...]}); accept both. */
function unwrap<T>(data: unknown, key: string): T[] {
  if (Array.isArray(data)) return data as T[];
  const obj = data as Record<string, unknown> | null;
  if (obj && Array.isArray(obj[key])) return obj[key] as T[];
  if (obj && Array.isArray(obj.items)) return obj.items as T[];
  return [];
}

export const api = {
  me: () => request<Me>("GET", "/api/me"),
  setPassword: (name: string, password: string, oldPassword?: string) =>
    request<{ user: string; password_set: boolean }>("PUT", `/api/users/${enc(name)}/password`, { password, old_password: oldPassword }),
  login: (name: string, password: string) =>
    request<{ token: string; user: string; role: string; expires_at: string }>("POST", "/api/login", { name, password }),

  listLines: async () => unwrap<Line>(await request("GET", "/api/lines"), "lines"),
  createLine: (key: string, name: string) => request<Line>("POST", "/api/lines", { key, name }),

  getStates: (line: string) => request<{ initial?: string; states: { key: string; label?: string; category?: string }[]; transitions?: [string, string][] } | null>("GET", `/api/lines/${enc(line)}/states`),
  getForm: (line: string) => request<FormDoc>("GET", `/api/lines/${enc(line)}/form`),
  saveForm: (line: string, fields: FormField[]) => request<FormDoc>("PUT", `/api/lines/${enc(line)}/form`, { fields }),
  fieldDictionary: () => request<Record<string, string[]>>("GET", "/api/field-dictionary"),

  listRules: async (line: string) => unwrap<RulesVersion>(await request("GET", `/api/lines/${enc(line)}/rules`), "versions"),
  getRules: (line: string, version: number) => request<{ version?: number; source: string }>("GET", `/api/lines/${enc(line)}/rules/${version}`),
  saveRules: (line: string, source: string) => request<{ version: number; diagnostics?: Diagnostic[] }>("PUT", `/api/lines/${enc(line)}/rules`, { source }),
  checkRules: (line: string, source: string) => request<{ diagnostics: Diagnostic[] }>("POST", `/api/lines/${enc(line)}/rules/check`, { source }),
  compareRules: (line: string, a: number, b: number) => request<RulesComparison>("GET", `/api/lines/${enc(line)}/rules/compare${qs({ a, b })}`),
  activateRules: (line: string, version: number) => request<unknown>("POST", `/api/lines/${enc(line)}/rules/${version}/activate`),
  dryRun: (line: string, ticket: Record<string, unknown>) => request<{ sla: Sla; route: RouteDecision | null }>("POST", `/api/lines/${enc(line)}/dry-run`, { ticket }),

  createTicket: (line: string, fields: Record<string, unknown>) => request<Ticket>("POST", `/api/lines/${enc(line)}/tickets`, fields),
  listTickets: async (f: { line?: string; state?: string; tier?: string; assignee?: string; q?: string }) =>
    unwrap<Ticket>(await request("GET", `/api/tickets${qs(f)}`), "tickets"),
  /** One page of tickets, newest first: `more` when another follows, `total` with `count`. */
  ticketPage: async (f: TicketQuery & { limit?: number; offset?: number; count?: boolean; state?: string }): Promise<TicketPage> => {
    const data = await request<Partial<TicketPage> & { items?: Ticket[] }>("GET", `/api/tickets${qs(f)}`);
    return { items: data?.items ?? [], more: !!data?.more, total: typeof data?.total === "number" ? data.total : undefined };
  },
  getTicket: (id: string | number) => request<Ticket>("GET", `/api/tickets/${enc(id)}`),
  moveTicket: (id: string | number, to: string, version: number) => request<Ticket>("POST", `/api/tickets/${enc(String(id))}/move`, { to, version }),
  timeline: async (id: string | number) => unwrap<TimelineEvent>(await request("GET", `/api/tickets/${enc(id)}/timeline`), "events"),
  dispatch: async (id: string | number) => unwrap<RouteDecision>(await request("GET", `/api/tickets/${enc(id)}/dispatch`), "decisions"),

  listEngineers: async () => unwrap<Engineer>(await request("GET", "/api/engineers"), "engineers"),
  createEngineer: (e: Partial<Engineer>) => request<Engineer>("POST", "/api/engineers", e),
  updateEngineer: (id: string, e: Partial<Engineer>) => request<Engineer>("PATCH", `/api/engineers/${enc(id)}`, e),
  importEngineers: (file: File) => {
    const fd = new FormData();
    fd.append("file", file, file.name);
    return request<ImportResult>("POST", "/api/engineers/import", fd);
  },
};
