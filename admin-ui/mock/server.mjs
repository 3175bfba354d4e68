// A development stand-in for the gongdan server: the API the admin UI expects, in memory,
// with the demo repair line. Rules are checked and dry-run by the real gongdan_rules
// library when a Python with lark and google-re2 is given (GONGDAN_PYTHON); the built UI
// is served at /admin like the real server does.
//
//   node mock/server.mjs [port]        (default 8000; any non-empty token signs in)
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, "../dist");
const repo = path.resolve(here, "../..");
const PY = process.env.GONGDAN_PYTHON ?? "python3";
const BRIDGE = fs.readFileSync(path.join(here, "rules_bridge.py.txt"), "utf8");
const port = Number(process.argv[2] ?? process.env.PORT ?? 8000);

const BASE = [
  ["category", "类别", "text"], ["title", "标题", "text"], ["description", "问题描述", "textarea"],
  ["customer_id", "客户编号", "text"], ["customer_phone", "客户电话", "phone"], ["device_sn", "设备序列号", "device_sn"],
  ["fault_code", "故障代码", "text"], ["region", "行政区划", "region"], ["location", "位置", "location"], ["reported_at", "报修时间", "datetime"],
].map(([key, label, type]) => ({ key, label, type, required: true }));

const db = {
  lines: [{ key: "repair", name: "设备维修", active_rules_version: 1 }],
  forms: {
    repair: [{
      version: 1,
      fields: [
        { key: "device_category", label: "设备类别", type: "select", required: true, options: ["PLC", "注塑机", "空压机", "机床"] },
        { key: "onsite", label: "是否上门", type: "bool", required: true, default: true },
        { key: "required_skill", label: "所需技能", type: "select", required: true, options: ["PLC调试", "机械维修", "电气维修"] },
        { key: "attachments", label: "现场照片", type: "attachment", required: false },
        { key: "customer_signature", label: "客户签名", type: "signature", required: false },
        { key: "root_cause_recorded", label: "已记录根因", type: "bool", required: false },
      ],
    }],
  },
  states: {
    repair: {
      initial: "新建",
      states: [
        ["新建", "open"], ["已派单", "open"], ["已到达", "open"], ["诊断中", "open"], ["待备件", "pending"],
        ["维修中", "open"], ["等待客户确认", "pending"], ["已结案", "closed"],
      ].map(([key, category]) => ({ key, label: key, category })),
      transitions: [
        ["新建", "已派单"], ["已派单", "已到达"], ["已到达", "诊断中"], ["诊断中", "待备件"], ["待备件", "维修中"],
        ["诊断中", "维修中"], ["维修中", "等待客户确认"], ["等待客户确认", "已结案"], ["等待客户确认", "维修中"], ["已派单", "新建"],
      ],
    },
  },
  rules: { repair: [{ version: 1, source: fs.readFileSync(path.join(here, "repair.rules"), "utf8"), created_at: new Date(Date.now() - 86400e3).toISOString(), active: true }] },
  engineers: [
    ["e1", "王强", "浦东一组", { PLC调试: 5, 电气维修: 3 }, 1, 5, true, [31.2304, 121.4737]],
    ["e2", "李娜", "浦东一组", { PLC调试: 3, 机械维修: 4 }, 4, 5, true, [31.2250, 121.4800]],
    ["e3", "张伟", "浦东二组", { 机械维修: 5 }, 0, 4, true, [31.2400, 121.5000]],
    ["e4", "刘洋", "浦西组", { PLC调试: 4 }, 2, 5, false, [31.2200, 121.4500]],
    ["e5", "陈静", "浦西组", { 电气维修: 5, PLC调试: 2 }, 5, 5, true, [31.2310, 121.4740]],
    ["e6", "赵磊", "远程支持", { PLC调试: 4, 电气维修: 4 }, 1, 8, true, [31.3000, 121.6000]],
  ].map(([id, name, team, skills, load, max_load, on_shift, [lat, lon]]) => ({ id, name, team, skills, load, max_load, on_shift, region: "310115", location: { lat, lon }, phone: null })),
  tickets: [],
  events: {},
  dispatch: {},
  seq: 0,
};

const dictionary = {
  customer_phone: ["客户电话", "联系电话", "手机号"], customer_id: ["客户编号", "客户ID"], device_sn: ["设备序列号", "序列号", "SN"],
  fault_code: ["故障代码", "故障码"], region: ["行政区划", "地区代码"], location: ["位置", "坐标"], reported_at: ["报修时间"],
  description: ["问题描述", "故障描述"], title: ["标题"], category: ["类别", "分类"],
  device_category: ["设备类别", "设备类型"], onsite: ["是否上门", "上门"], required_skill: ["所需技能", "技能要求"],
  vibration_mm_s: ["振动值", "振动速度"], root_cause: ["根因", "故障原因"],
};

function schemaOf(fields) {
  const prop = (f) => {
    switch (f.type) {
      case "number": return { type: "number" };
      case "bool": return { type: "boolean" };
      case "select": return { type: "string", enum: f.options ?? [] };
      case "multiselect": return { type: "array", items: { type: "string", enum: f.options ?? [] } };
      case "date": return { type: "string", format: "date" };
      case "datetime": return { type: "string", format: "date-time" };
      case "location": return { type: "object", properties: { lat: { type: "number" }, lon: { type: "number" } } };
      case "attachment": return { type: "array", items: { type: "object", properties: { kind: { type: "string" }, url: { type: "string" } } } };
      default: return { type: "string" };
    }
  };
  const all = [...BASE, ...fields];
  return { type: "object", properties: Object.fromEntries(all.map((f) => [f.key, prop(f)])), required: all.filter((f) => f.required).map((f) => f.key) };
}

const currentForm = (line) => db.forms[line]?.at(-1) ?? { version: 0, fields: [] };
const stateKeys = (line) => (db.states[line]?.states ?? []).map((s) => s.key);

function bridge(req) {
  return new Promise((resolve) => {
    const p = spawn(PY, ["-c", BRIDGE], { env: { ...process.env, PYTHONPATH: path.join(repo, "dsl") } });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("error", () => resolve({ unavailable: "no python" }));
    p.on("close", () => {
      try { resolve(JSON.parse(out)); } catch { resolve({ unavailable: err.slice(-500) }); }
    });
    p.stdin.end(JSON.stringify(req));
  });
}

async function rulesFor(line, source, op = "check", extra = {}) {
  return bridge({ op, source, schema: schemaOf(currentForm(line).fields), states: stateKeys(line), ...extra });
}

function activeSource(line) {
  const v = (db.rules[line] ?? []).find((r) => r.active);
  return v?.source;
}

function now() { return new Date(); }
function iso(d) { return new Date(d).toISOString().replace(/\.\d+Z$/, "Z"); }

function addEvent(id, type, channel, actor, before, after, at = now()) {
  const list = (db.events[id] ??= []);
  list.push({ seq: list.length + 1, type, at: iso(at), actor, channel, before, after });
}

async function createTicket(line, fields, at = now()) {
  db.seq += 1;
  const day = iso(at).slice(0, 10).replaceAll("-", "");
  const number = `WX-${day}-${String(db.seq).padStart(4, "0")}`;
  const id = String(db.seq);
  const t = { id, number, line, state: db.states[line]?.initial ?? "新建", fields, sla: null, assignee: null, version: 1, created_at: iso(at) };
  addEvent(id, "created", "api", "admin", null, { state: t.state }, at);
  const src = activeSource(line);
  if (src) {
    const r = await rulesFor(line, src, "dryrun", { ticket: fields, engineers: db.engineers });
    if (r.sla) {
      t.sla = { tier: r.sla.tier, respond_by: iso(at.getTime() + r.sla.respond_within * 1000), resolve_by: iso(at.getTime() + r.sla.resolve_within * 1000) };
      addEvent(id, "classified", "rule", null, null, { tier: r.sla.tier }, at);
    }
    if (r.route) {
      db.dispatch[id] = [{ ...r.route, created_at: iso(at) }];
      if (r.route.offered?.length) addEvent(id, "offered", "rule", null, null, { offered: r.route.offered }, at);
    }
  }
  db.tickets.push(t);
  return t;
}

async function seed() {
  const base = { category: "设备故障", customer_id: "C-1001", customer_phone: "13800138000", region: "310115", reported_at: iso(now()) };
  const demo = [
    ["3号线注塑机停机", "3号线注塑机停机，无法启动", "E-101", "注塑机", "机械维修", true, "新建", null, 1],
    ["PLC 报警灯闪烁", "PLC 报警灯闪烁，产线降速", "E-230", "PLC", "PLC调试", true, "已派单", "e1", 3],
    ["空压机异响", "空压机运行有异响", "E-310", "空压机", "机械维修", true, "诊断中", "e3", 20],
    ["机床参数咨询", "请远程指导调整参数", "E-000", "机床", "电气维修", false, "维修中", "e6", 30],
    ["等待备件：伺服电机", "伺服电机烧毁，已申请备件", "E-415", "机床", "电气维修", true, "待备件", "e5", 50],
    ["冷却异常", "CT 设备冷却异常报警", "E-102", "PLC", "PLC调试", true, "等待客户确认", "e2", 6],
    ["传送带跑偏", "传送带跑偏已调整", "E-120", "机床", "机械维修", true, "已结案", "e3", 80],
  ];
  for (const [title, description, fault_code, device_category, required_skill, onsite, state, assignee, hoursAgo] of demo) {
    const at = new Date(Date.now() - hoursAgo * 3600e3);
    const t = await createTicket("repair", {
      ...base, title, description, fault_code, device_category, required_skill, onsite,
      device_sn: `SN-${1000 + db.seq}`, location: { lat: 31.2304 + db.seq * 0.003, lon: 121.4737 }, reported_at: iso(at),
    }, at);
    if (assignee) {
      t.assignee = assignee;
      addEvent(t.id, "claimed", "app", assignee, null, { assignee }, new Date(at.getTime() + 600e3));
    }
    if (state !== t.state) {
      addEvent(t.id, "moved", "app", assignee, { state: t.state }, { state }, new Date(at.getTime() + 1800e3));
      t.state = state;
    }
  }
}

function send(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(body === undefined ? "" : JSON.stringify(body));
}
const err = (res, status, zh, en, extra = [], more = {}) => send(res, status, { status, message_zh: zh, message_en: en, extra, ...more });

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

function validateTicket(line, body) {
  const extra = [];
  for (const f of [...BASE, ...currentForm(line).fields]) {
    const v = body[f.key];
    if (f.required && (v === undefined || v === null || v === "") && f.type !== "bool") extra.push({ key: f.key, message_zh: `${f.label}为必填项`, message_en: `${f.key} is required` });
  }
  return extra;
}

const MIME = { ".js": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".png": "image/png" };

function serveStatic(res, url) {
  let rel = decodeURIComponent(url.pathname.replace(/^\/admin\/?/, ""));
  let file = path.join(dist, rel);
  if (!file.startsWith(dist) || !rel || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(dist, "index.html");
  if (!fs.existsSync(file)) return err(res, 404, "未构建管理界面", "admin UI not built");
  res.writeHead(200, { "Content-Type": MIME[path.extname(file)] ?? "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
}

async function handle(req, res) {
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  if (p === "/" ) { res.writeHead(302, { Location: "/admin/" }); return res.end(); }
  if (p.startsWith("/admin")) return serveStatic(res, url);
  if (!p.startsWith("/api/")) return err(res, 404, "未找到", "not found");
  const auth = req.headers.authorization ?? "";
  if (req.method === "POST" && p === "/api/login") {
    // any user name with a password of 8 characters or more signs in
    const raw = await readBody(req);
    const b = raw.length ? JSON.parse(raw.toString("utf8")) : {};
    if (!b.name || String(b.password ?? "").length < 8) return err(res, 401, "用户名或密码错误", "wrong user name or password");
    return send(res, 200, { token: `mock-${b.name}`, user: b.name, role: "admin", expires_at: new Date(Date.now() + 12 * 3600e3).toISOString() });
  }
  if (!/^Bearer \S+/.test(auth) || auth === "Bearer bad") return err(res, 401, "未登录或令牌无效", "missing or invalid token");
  const raw = await readBody(req);
  const ctype = req.headers["content-type"] ?? "";
  const body = ctype.includes("json") && raw.length ? JSON.parse(raw.toString("utf8")) : {};
  const m = (re) => re.exec(`${req.method} ${p}`);
  let g;

  if (m(/^GET \/api\/me$/)) return send(res, 200, { name: "admin", role: "admin", may: ["customers.read", "lines.read", "lines.write", "rules.activate", "rules.write", "tickets.assign", "tickets.create", "tickets.event", "tickets.move", "tickets.read", "tickets.update", "users.manage"] });
  if (m(/^GET \/api\/field-dictionary$/)) return send(res, 200, dictionary);
  if (m(/^GET \/api\/lines$/)) return send(res, 200, db.lines);
  if (m(/^POST \/api\/lines$/)) {
    db.lines.push({ key: body.key, name: body.name, active_rules_version: null });
    db.forms[body.key] = []; db.rules[body.key] = [];
    return send(res, 201, db.lines.at(-1));
  }
  if ((g = m(/^GET \/api\/lines\/([^/]+)\/form$/))) {
    const f = currentForm(decodeURIComponent(g[1]));
    return send(res, 200, { version: f.version, fields: [...BASE, ...f.fields], schema: schemaOf(f.fields) });
  }
  if ((g = m(/^PUT \/api\/lines\/([^/]+)\/form$/))) {
    const line = decodeURIComponent(g[1]);
    const list = (db.forms[line] ??= []);
    const version = (list.at(-1)?.version ?? 0) + 1;
    list.push({ version, fields: body.fields });
    return send(res, 201, { version, fields: body.fields });
  }
  if ((g = m(/^GET \/api\/lines\/([^/]+)\/states$/))) return send(res, 200, db.states[decodeURIComponent(g[1])] ?? { states: [] });
  if ((g = m(/^GET \/api\/lines\/([^/]+)\/rules$/))) return send(res, 200, (db.rules[decodeURIComponent(g[1])] ?? []).map(({ version, created_at, active }) => ({ version, created_at, active })));
  if ((g = m(/^GET \/api\/lines\/([^/]+)\/rules\/compare$/))) {
    const line = decodeURIComponent(g[1]);
    const [a, b] = [Number(url.searchParams.get("a")), Number(url.searchParams.get("b"))];
    const va = (db.rules[line] ?? []).find((r) => r.version === a);
    const vb = (db.rules[line] ?? []).find((r) => r.version === b);
    if (!va || !vb) return err(res, 404, "没有这个版本", "no such version");
    const tickets = db.tickets.filter((t) => t.line === line);
    const r = await bridge({ op: "compare", source_a: va.source, source_b: vb.source, tickets: tickets.map((t) => t.fields), schema: schemaOf(currentForm(line).fields), states: stateKeys(line) });
    const changes = tickets.map((t, i) => ({ number: t.number, tier_a: r.a?.[i] ?? null, tier_b: r.b?.[i] ?? null })).filter((c) => c.tier_a !== c.tier_b);
    return send(res, 200, { line, a, b, diff: "", replayed: tickets.length, tier_changes: changes });
  }
  if ((g = m(/^GET \/api\/lines\/([^/]+)\/rules\/(\d+)$/))) {
    const v = (db.rules[decodeURIComponent(g[1])] ?? []).find((r) => r.version === Number(g[2]));
    return v ? send(res, 200, { version: v.version, source: v.source }) : err(res, 404, "没有这个版本", "no such version");
  }
  if ((g = m(/^POST \/api\/lines\/([^/]+)\/rules\/check$/))) {
    const r = await rulesFor(decodeURIComponent(g[1]), body.source ?? "");
    return send(res, 200, { diagnostics: r.diagnostics ?? [] });
  }
  if ((g = m(/^PUT \/api\/lines\/([^/]+)\/rules$/))) {
    const line = decodeURIComponent(g[1]);
    const r = await rulesFor(line, body.source ?? "");
    if (r.error) return err(res, 422, "规则无法编译", "The ruleset does not compile", [], { data: { diagnostics: r.diagnostics } });
    const list = (db.rules[line] ??= []);
    const version = (list.at(-1)?.version ?? 0) + 1;
    list.push({ version, source: body.source, created_at: iso(now()), active: false });
    return send(res, 201, { version, diagnostics: r.diagnostics ?? [] });
  }
  if ((g = m(/^POST \/api\/lines\/([^/]+)\/rules\/(\d+)\/activate$/))) {
    const line = decodeURIComponent(g[1]);
    const list = db.rules[line] ?? [];
    const v = list.find((r) => r.version === Number(g[2]));
    if (!v) return err(res, 404, "没有这个版本", "no such version");
    list.forEach((r) => (r.active = r === v));
    return send(res, 200, { version: v.version, active: true });
  }
  if ((g = m(/^POST \/api\/lines\/([^/]+)\/dry-run$/))) {
    const line = decodeURIComponent(g[1]);
    const src = activeSource(line);
    if (!src) return err(res, 409, "该业务线没有生效的规则", "the line has no active ruleset");
    const r = await rulesFor(line, src, "dryrun", { ticket: body.ticket ?? {}, engineers: db.engineers });
    if (r.unavailable) return err(res, 503, "规则引擎不可用", `rules engine unavailable: ${r.unavailable}`);
    const route = r.route ? { ...r.route, candidates: r.route.candidates.map((c) => ({ ...c, name: db.engineers.find((e) => e.id === c.engineer_id)?.name })) } : null;
    return send(res, 200, { sla: r.sla ? { ...r.sla, why: r.sla.label ? `${r.sla.tier} ${r.sla.label}` : undefined } : null, route });
  }
  if ((g = m(/^POST \/api\/lines\/([^/]+)\/tickets$/))) {
    const line = decodeURIComponent(g[1]);
    const extra = validateTicket(line, body);
    if (extra.length) return err(res, 422, "工单字段有误", "the ticket has invalid fields", extra);
    return send(res, 201, await createTicket(line, body));
  }
  if (m(/^GET \/api\/tickets$/)) {
    const q = Object.fromEntries(url.searchParams);
    const list = db.tickets.filter((t) => (!q.line || t.line === q.line) && (!q.state || t.state === q.state) && (!q.tier || t.sla?.tier === q.tier)
      && (!q.assignee || t.assignee === q.assignee) && (!q.q || JSON.stringify(t.fields).includes(q.q) || t.number.includes(q.q))
      && (q.overdue !== "true" || (t.sla?.resolve_by && Date.parse(t.sla.resolve_by) < Date.now())));
    const limit = Math.max(1, Math.min(Number(q.limit ?? 50), 500));
    const offset = Math.max(0, Number(q.offset ?? 0));
    const page = [...list].reverse().slice(offset, offset + limit);
    return send(res, 200, { items: page, limit, offset, more: offset + limit < list.length, ...(q.count === "true" ? { total: list.length } : {}) });
  }
  if ((g = m(/^GET \/api\/tickets\/([^/]+)$/))) {
    const t = db.tickets.find((x) => x.id === g[1]);
    return t ? send(res, 200, t) : err(res, 404, "没有这个工单", "no such ticket");
  }
  if ((g = m(/^POST \/api\/tickets\/([^/]+)\/move$/))) {
    const t = db.tickets.find((x) => x.id === g[1]);
    if (!t) return err(res, 404, "没有这个工单", "no such ticket");
    if (body.version !== t.version) return err(res, 409, "工单已被他人修改，请刷新", "the ticket changed; reload it");
    const ok = (db.states[t.line]?.transitions ?? []).some(([a, b]) => (a === t.state || a === "*") && b === body.to);
    if (!ok) return err(res, 409, `不能从 ${t.state} 移动到 ${body.to}`, `cannot move from ${t.state} to ${body.to}`);
    if (body.to === "已结案") return err(res, 409, "结案条件未满足：客户验收", "the close lock holds: 客户验收", [{ key: "客户验收", message_zh: "缺少客户签名", message_en: "no customer signature" }]);
    addEvent(t.id, "moved", "app", "admin", { state: t.state }, { state: body.to });
    t.state = body.to;
    t.version += 1;
    return send(res, 200, t);
  }
  if ((g = m(/^GET \/api\/tickets\/([^/]+)\/timeline$/))) return send(res, 200, { ticket: g[1], events: db.events[g[1]] ?? [] });
  if ((g = m(/^GET \/api\/tickets\/([^/]+)\/dispatch$/))) return send(res, 200, db.dispatch[g[1]] ?? []);
  if (m(/^GET \/api\/engineers$/)) return send(res, 200, db.engineers);
  if (m(/^POST \/api\/engineers$/)) {
    const e = { id: `e${db.engineers.length + 1}`, load: 0, skills: {}, max_load: 5, on_shift: true, ...body };
    db.engineers.push(e);
    return send(res, 201, e);
  }
  if ((g = m(/^PATCH \/api\/engineers\/([^/]+)$/))) {
    const e = db.engineers.find((x) => x.id === g[1]);
    if (!e) return err(res, 404, "没有这个工程师", "no such engineer");
    Object.assign(e, body);
    return send(res, 200, e);
  }
  if (m(/^POST \/api\/engineers\/import$/)) {
    // Only CSV here (name,team,skills "技能:等级;…",max_load); the real server also reads Excel.
    const text = raw.toString("utf8");
    const csv = text.slice(text.indexOf("\r\n\r\n") + 4, text.lastIndexOf("\r\n--"));
    const rows = csv.split(/\r?\n/).filter(Boolean).slice(1);
    const errors = [];
    const parsed = rows.map((line, i) => {
      const [name, team, skills, max_load] = line.split(",");
      if (!name) errors.push({ row: i + 2, message_zh: "姓名为空", message_en: "name is empty" });
      return { name, team, skills: Object.fromEntries((skills ?? "").split(";").filter(Boolean).map((s) => { const [k, v] = s.split(":"); return [k, Number(v)]; })), max_load: Number(max_load) || 5 };
    });
    if (errors.length) return send(res, 422, { status: 422, message_zh: "导入失败", message_en: "import failed", extra: errors.map((e) => ({ key: `row ${e.row}`, message_zh: e.message_zh, message_en: e.message_en })) });
    for (const e of parsed) db.engineers.push({ id: `e${db.engineers.length + 1}`, load: 0, on_shift: true, region: null, location: null, phone: null, ...e });
    return send(res, 200, { imported: parsed.length, errors: [] });
  }
  return err(res, 404, "未找到", `no route for ${req.method} ${p}`);
}

await seed();
http.createServer((req, res) => handle(req, res).catch((e) => err(res, 500, "服务器错误", String(e)))).listen(port, "127.0.0.1", () => {
  console.log(`mock gongdan API on http://127.0.0.1:${port} (admin UI at /admin)`);
});
