import type zh from "./zh-CN";

const en: typeof zh = {
  app: { title: "gongdan · Admin", signOut: "Sign out", language: "中文" },
  menu: { designer: "Form designer", rules: "Rules editor", dryRun: "Dry run", board: "Ticket board", engineers: "Engineers" },
  login: {
    title: "Sign in to the admin", token: "API token", tokenHint: "Run gongdan token create --user YOU --role admin to get one",
    submit: "Sign in", bad: "The token is invalid or expired",
    byUser: "User", byToken: "Token", name: "User name", password: "Password",
    badPassword: "Wrong user name or password", passwordHint: "First time: run gongdan user passwd YOU to set a password (make run prints admin's)",
  },
  password: {
    title: "Change password", old: "Current password", new: "New password", repeat: "New password again", required: "Required",
    tooShort: "At least 8 characters", mismatch: "The two new passwords differ", changed: "Password changed",
  },
  common: {
    line: "Line", pickLine: "Pick a line", save: "Save", cancel: "Cancel", edit: "Edit", add: "Add", refresh: "Refresh",
    delete: "Delete", loading: "Loading…", none: "None", yes: "Yes", no: "No", saved: "Saved", search: "Search", all: "All",
    error: "Error", close: "Close", version: "Version",
  },
  types: {
    text: "Text", textarea: "Paragraph", number: "Number", bool: "Yes/No", select: "Select", multiselect: "Multi-select",
    date: "Date", datetime: "Date & time", phone: "Phone", region: "Region code", location: "Location", device_sn: "Device SN",
    attachment: "Attachment", signature: "Signature",
  },
  designer: {
    palette: "Field types", paletteHint: "Drag onto the canvas, or click to add", canvas: "Form canvas", empty: "Drag fields here",
    props: "Properties", preview: "Preview", noSelection: "Select a field to edit it", label: "Label", key: "Key",
    keyHint: "lower-case letters, digits, underscore; used by rules and reports", suggest: "Dictionary", useSuggestion: "Use",
    reservedSuggestion: "\"{label}\" is the base field {key}, which the platform already adds.",
    required: "Required", options: "Options", optionsHint: "One option per line", default: "Default", help: "Help text",
    when: "Show when", whenAlways: "Always shown", whenIs: "is (any of)", whenHint: "The field is shown, and required, only when the condition holds",
    validation: "Validation", min: "Min", max: "Max", minLength: "Min length", maxLength: "Max length", pattern: "Pattern",
    saveVersion: "Save as new version", savedVersion: "Saved as version {version}", fixErrors: "Fix the {n} problem(s) in red first",
    baseFields: "Base fields (added by the platform)", fieldCount: "{n} fields", up: "Move up", down: "Move down", remove: "Remove", duplicate: "Duplicate",
    previewTitle: "The form as customers and agents see it", json: "Fields JSON",
  },
  rules: {
    versions: "Versions", active: "Active", activate: "Activate", activated: "Version {version} is active",
    saveVersion: "Save as new version", savedVersion: "Saved as version {version}", checking: "Checking…",
    ok: "No problems", problems: "{errors} error(s), {warnings} warning(s)", fix: "Change to {fix}", diff: "Compare",
    diffLeft: "Left", diffRight: "Right", open: "Open", created: "Created", editor: "Edit",
    replay: "Replayed {n} recent tickets: {changed} would change tier", ticket: "Ticket", unchangedLines: "$ unchanged lines",
    discard: "Discard your unsaved changes?", unsaved: "Unsaved",
    draftRestored: "Your unsaved changes were restored",
    rejected: "The rules have errors and were not saved", newRules: "New rules",
  },
  dryRun: {
    source: "Ticket", pastTicket: "A past ticket", byHand: "Fill by hand", run: "Dry run", tier: "SLA tier",
    why: "Why", respondBy: "Respond by", resolveBy: "Resolve by", pool: "Pool", offered: "Offered to",
    rank: "Rank", engineer: "Engineer", score: "Score", rejectedBy: "Rejected by", passed: "Passed",
    respondWithin: "Respond within", resolveWithin: "Resolve within", calendar: "Calendar", pauseStates: "Clock paused in", bypassQueue: "Bypass queue",
    editCopy: "Copy into the form to try changes",
    whyQ1: "Why is", whyQ2: "ahead of", whyQ3: "?",
    noPool: "No pool matched", noTier: "No tier matched", chart: "Candidate scores",
  },
  board: {
    filters: "Filters", tier: "Tier", assignee: "Assignee", overdue: "Overdue only", q: "Text", noTickets: "No tickets",
    detail: "Ticket", timeline: "Timeline", dispatch: "Dispatch", fields: "Fields", state: "State",
    respondBy: "Respond by", resolveBy: "Resolve by", newTicket: "New ticket", unassigned: "Unassigned",
    moveTo: "Move to…", move: "Move", moved: "Moved to {state}",
    overdueTag: "Overdue", created: "Ticket {number} created",
    loadMore: "Load more", shownOf: "Showing {shown} of {total}", colOf: "{shown} of {total} in this column shown",
  },
  engineers: {
    name: "Name", id: "ID", team: "Team", skills: "Skills (level)", load: "Load/limit", onShift: "On shift",
    region: "Region", phone: "Phone", import: "Import CSV/XLSX", imported: "Imported {n}", edit: "Edit engineer",
    add: "Add engineer", skillName: "Skill", level: "Level", addSkill: "Add skill", maxLoad: "Load limit",
    template: "Download a template", badType: "{name}: only .csv or .xlsx files can be imported (save an old .xls as .xlsx in Excel)",
    importErrors: "These rows have errors; nothing was imported",
  },
};
export default en;
