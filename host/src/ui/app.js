// The weft web UI: a client of the HTTP API under /v1, nothing else. Every
// value a workflow controls is put on the page as text (textContent, never
// HTML), and the API token lives in sessionStorage only.

const TOKEN = 'weft-token';
const PAGE = 50;
const EVENT_ROWS = 200;
const HISTORY_PAGE = 1000;

// ---- DOM helpers -------------------------------------------------------

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const main = () => document.getElementById('main');

function show(...children) {
  const m = main();
  m.replaceChildren();
  append(m, children);
}

function when(ms) {
  if (ms === undefined || ms === null) return '';
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function span(ms) {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(s < 10 ? 2 : 0)} s`;
  const m = s / 60;
  if (m < 120) return `${m.toFixed(0)} min`;
  const hrs = m / 60;
  if (hrs < 48) return `${hrs.toFixed(1)} h`;
  return `${(hrs / 24).toFixed(1)} d`;
}

const badge = (text) => h('span', { class: `badge ${text}` }, text);

/** A payload as the API gives it: JSON text, or {"base64": ...}. */
function payloadText(p) {
  if (p === undefined || p === null) return '';
  if (typeof p === 'string') {
    try { return JSON.stringify(JSON.parse(p), null, 2); } catch { return p; }
  }
  return JSON.stringify(p, null, 2);
}

const pre = (text, attrs) => h('pre', attrs || {}, text);

function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, e && e.message ? e.message : String(e));
}

// ---- the API -----------------------------------------------------------

class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

async function api(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit', cache: 'no-store',
  });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (resp.status === 401 && !token) {
    askToken(data && data.error ? data.error.message : 'this host needs an API token');
    throw new ApiError(401, 'an API token is needed', data);
  }
  if (!resp.ok) {
    const msg = data && data.error ? `${resp.status}: ${data.error.message}` : `${resp.status}: ${text}`;
    throw new ApiError(resp.status, msg, data);
  }
  return data;
}

const enc = encodeURIComponent;

// ---- dialogs -----------------------------------------------------------

function closeDialog() {
  const d = document.getElementById('dialog');
  d.hidden = true;
  d.replaceChildren();
}

/** A dialog with `body` and buttons; `onOk` returns a promise of what to show. */
function dialog(title, body, okText, onOk, danger) {
  const d = document.getElementById('dialog');
  const out = h('div', { class: 'dialog-answer' });
  const ok = h('button', {
    class: danger ? 'primary danger' : 'primary', id: 'dialog-ok',
    onclick: async () => {
      ok.disabled = true;
      out.replaceChildren();
      try {
        const answer = await onOk();
        if (answer !== undefined) out.append(answer);
        ok.hidden = true;
        cancel.textContent = 'Close';
      } catch (e) {
        out.append(errorBox(e));
        ok.disabled = false;
      }
    },
  }, okText);
  const cancel = h('button', { id: 'dialog-cancel', onclick: () => { closeDialog(); route(); } }, 'Cancel');
  d.replaceChildren(h('div', { role: 'dialog' }, h('h3', {}, title), body, out, h('div', { class: 'row' }, cancel, ok)));
  d.hidden = false;
}

function askToken(why) {
  const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', placeholder: 'API token' });
  dialog('API token', h('div', {},
    h('p', {}, 'This host asks for an API token (', why, '). It is kept in this tab only (sessionStorage) and sent as a bearer token.'),
    input), 'Use it', async () => {
    sessionStorage.setItem(TOKEN, input.value.trim());
    closeDialog();
    updateTokenButton();
    route();
  });
  input.focus();
}

function updateTokenButton() {
  const b = document.getElementById('forget-token');
  b.hidden = !sessionStorage.getItem(TOKEN);
}

function jsonInput(id, value) {
  return h('textarea', { id, spellcheck: 'false' }, value === undefined ? 'null' : value);
}

function parseJson(text, what) {
  try { return JSON.parse(text.trim() === '' ? 'null' : text); } catch (e) {
    throw new Error(`${what} is not JSON: ${e.message}`);
  }
}

// ---- router ------------------------------------------------------------

let refreshTimer = null;

function stopRefresh() {
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = null;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/executions';
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || '') };
}

// Routes run one after another: a refresh that began on the page being
// left must not paint over the page navigated to (each route reads the
// address when it starts).
let routing = Promise.resolve();

function route() {
  routing = routing.then(renderRoute, renderRoute);
  return routing;
}

async function renderRoute() {
  stopRefresh();
  const { parts, params } = parseHash();
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', a.dataset.nav === parts[0]);
  }
  try {
    switch (parts[0]) {
      case 'executions':
        if (parts[1]) await executionPage(parts[1]); else await executionsPage(params);
        break;
      case 'schedules':
        if (parts[1]) await schedulePage(parts[1]); else await schedulesPage();
        break;
      case 'types':
        if (parts[1]) await typePage(parts[1]); else await typesPage();
        break;
      case 'modules':
        await modulesPage();
        break;
      default:
        location.hash = '#/executions';
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && !sessionStorage.getItem(TOKEN)) {
      show(h('p', { class: 'muted' }, 'Waiting for an API token.'));
    } else {
      show(errorBox(e));
    }
  }
}

// ---- executions --------------------------------------------------------

const STATUSES = ['running', 'stalled', 'completed', 'failed', 'cancelled', 'terminated'];

function toMs(local) {
  if (!local) return undefined;
  const t = new Date(local).getTime();
  return Number.isNaN(t) ? undefined : t;
}

function fromMs(ms) {
  if (!ms) return '';
  const d = new Date(Number(ms));
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function executionsPage(params) {
  const types = await api('GET', '/v1/workflow-types');
  const cursors = (params.get('cursors') || '').split(',').filter(Boolean);
  const cursor = cursors[cursors.length - 1];
  const q = new URLSearchParams({ limit: String(PAGE) });
  for (const k of ['status', 'workflow_type', 'id_prefix', 'started_after_ms', 'started_before_ms', 'query']) {
    if (params.get(k)) q.set(k, params.get(k));
  }
  if (cursor) q.set('cursor', cursor);

  const status = h('select', { name: 'status', id: 'filter-status' }, h('option', { value: '' }, 'any status'),
    STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s)));
  const type = h('select', { name: 'workflow_type', id: 'filter-type' }, h('option', { value: '' }, 'any type'),
    types.workflow_types.map((t) => h('option', { value: t.name, selected: params.get('workflow_type') === t.name }, t.name)));
  const prefix = h('input', { name: 'id_prefix', id: 'filter-id', placeholder: 'id starts with', value: params.get('id_prefix') || '' });
  const after = h('input', { type: 'datetime-local', id: 'filter-after', value: fromMs(params.get('started_after_ms')) });
  const before = h('input', { type: 'datetime-local', id: 'filter-before', value: fromMs(params.get('started_before_ms')) });
  const query = h('input', {
    name: 'query', id: 'filter-query', class: 'mono wide', value: params.get('query') || '',
    placeholder: 'ApprovalState = "pending" AND StartTime > "2026-11-01"',
    title: 'A list query over search attributes (Temporal\'s syntax): =, !=, <, >, IN, BETWEEN, STARTS_WITH, IS NULL, AND, OR',
  });
  const live = h('input', { type: 'checkbox', id: 'live', checked: params.get('live') !== 'off' });
  const form = h('form', {
    class: 'filters', id: 'filters',
    onsubmit: (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      if (status.value) p.set('status', status.value);
      if (type.value) p.set('workflow_type', type.value);
      if (prefix.value.trim()) p.set('id_prefix', prefix.value.trim());
      if (toMs(after.value)) p.set('started_after_ms', String(toMs(after.value)));
      if (toMs(before.value)) p.set('started_before_ms', String(toMs(before.value)));
      if (query.value.trim()) p.set('query', query.value.trim());
      if (!live.checked) p.set('live', 'off');
      location.hash = `#/executions?${p}`;
    },
  },
  h('label', {}, 'Status', status), h('label', {}, 'Type', type), h('label', {}, 'Id', prefix),
  h('label', {}, 'Started after', after), h('label', {}, 'Started before', before),
  h('label', { class: 'wide' }, 'Query', query),
  h('button', { class: 'primary', type: 'submit', id: 'filter-apply' }, 'Filter'),
  h('label', { class: 'inline' }, h('span', {}, 'Live'), live));

  const tableBox = h('div', { id: 'executions' });
  const pager = h('div', { class: 'pager' });
  show(h('h1', {}, 'Executions'), form, tableBox, pager);

  const paint = async () => {
    let page;
    try {
      page = await api('GET', `/v1/executions?${q}`);
    } catch (e) {
      // A bad query: say where, keep the form to fix it.
      tableBox.replaceChildren(errorBox(e));
      pager.replaceChildren();
      return;
    }
    const rows = page.executions.map((e) => h('tr', { 'data-id': e.id },
      h('td', { class: 'mono' }, h('a', { href: `#/executions/${enc(e.id)}` }, e.id)),
      h('td', {}, e.workflow_type),
      h('td', { class: 'mono' }, e.module.slice(0, 12)),
      h('td', {}, badge(e.status)),
      h('td', {}, when(e.created_at_ms)),
      h('td', {}, when(e.closed_at_ms)),
      h('td', {}, String(e.run))));
    tableBox.replaceChildren(rows.length === 0
      ? h('p', { class: 'muted' }, 'No execution matches.')
      : h('table', {}, h('thead', {}, h('tr', {}, ['Id', 'Type', 'Module', 'Status', 'Started', 'Closed', 'Run'].map((c) => h('th', {}, c)))),
        h('tbody', {}, rows)));
    const base = new URLSearchParams(params);
    const prev = cursors.slice(0, -1);
    pager.replaceChildren(
      h('button', {
        id: 'page-prev', disabled: cursors.length === 0,
        onclick: () => { base.set('cursors', prev.join(',')); location.hash = `#/executions?${base}`; },
      }, '← Newer'),
      h('span', { class: 'muted' }, `page ${cursors.length + 1}`),
      h('button', {
        id: 'page-next', disabled: !page.next_cursor,
        onclick: () => { base.set('cursors', [...cursors, page.next_cursor].join(',')); location.hash = `#/executions?${base}`; },
      }, 'Older →'));
  };
  await paint();
  if (live.checked && cursors.length === 0) {
    refreshTimer = setInterval(() => { if (!document.hidden) paint().catch(() => {}); }, 2000);
  }
}

async function fetchHistory(id, run) {
  // The history API is paged: fetch it a page at a time.
  let events = [];
  let head = null;
  for (let from = 0; ; from += HISTORY_PAGE) {
    const q = new URLSearchParams({ from: String(from), limit: String(HISTORY_PAGE) });
    if (run) q.set('run', String(run));
    const page = await api('GET', `/v1/executions/${enc(id)}/history?${q}`);
    head = page;
    events = events.concat(page.events);
    if (page.events.length < HISTORY_PAGE) break;
  }
  return { ...head, events };
}

function eventSummary(e) {
  const ev = e.event;
  const parts = [];
  for (const k of ['name', 'handle', 'attempt', 'workflow_type', 'child_id', 'update_id', 'reason', 'duration_ms', 'target']) {
    if (ev[k] !== undefined && ev[k] !== '') parts.push(`${k}=${typeof ev[k] === 'object' ? JSON.stringify(ev[k]) : ev[k]}`);
  }
  if (ev.failure) parts.push(`failure: ${ev.failure.message}`);
  for (const k of ['input', 'output']) {
    if (typeof ev[k] === 'string') parts.push(`${k}=${ev[k].length > 120 ? ev[k].slice(0, 120) + '…' : ev[k]}`);
  }
  return parts.join('  ');
}

/** Activities, timers and children as bars on workflow time. */
function timeline(events, nowMs) {
  const bars = new Map();
  let start = events.length ? events[0].at_ms : nowMs;
  let end = events.length ? events[events.length - 1].at_ms : nowMs;
  // Bars are placed on workflow time; when the whole history took a few
  // milliseconds (a manual clock, fast activities), on event order instead.
  const byOrder = events.length > 1 && events[events.length - 1].at_ms - events[0].at_ms < events.length * 2 &&
    !events.some((e) => e.event.type === 'timer_started');
  const pos = (e) => (byOrder ? e.index : e.at_ms);
  const open = (key, label, cls, at) => bars.set(key, { label, cls, from: at, to: null, ticks: [] });
  for (const e of events) {
    const ev = e.event;
    const t = ev.type;
    if (t === 'activity_scheduled') open(`a${ev.handle}`, `activity ${ev.name}`, 'bar-open', pos(e));
    else if (t === 'timer_started') {
      open(`t${ev.handle}`, `timer ${span(ev.duration_ms)}`, 'bar-timer', pos(e));
      bars.get(`t${ev.handle}`).due = ev.fire_at_ms;
    }
    else if (t === 'child_started') open(`c${ev.handle}`, `child ${ev.child_id}`, 'bar-child', pos(e));
    else if (t === 'activity_attempt_failed') { const b = bars.get(`a${ev.handle}`); if (b) b.ticks.push(pos(e)); }
    else if (t === 'activity_completed' || t === 'activity_failed' || t === 'activity_cancel_ended') {
      const b = bars.get(`a${ev.handle}`);
      if (b) { b.to = pos(e); b.cls = t === 'activity_completed' ? 'bar-ok' : 'bar-bad'; }
    } else if (t === 'timer_fired' || t === 'timer_cancelled') {
      const b = bars.get(`t${ev.handle}`); if (b) b.to = pos(e);
    } else if (t === 'child_completed') {
      const b = bars.get(`c${ev.handle}`); if (b) { b.to = pos(e); if (ev.failure) b.cls = 'bar-bad'; }
    }
  }
  const list = [...bars.values()];
  if (byOrder) {
    start = 0;
    end = events.length;
  } else if (list.some((b) => b.to === null)) end = Math.max(end, nowMs);
  // A pending timer is drawn to when it is due.
  for (const b of list) if (b.to === null && b.due) end = Math.max(end, b.due);
  const width = 1000;
  const label = 260;
  const row = 18;
  const shown = list.slice(0, 2000);
  const scale = (t) => label + ((t - start) / Math.max(1, end - start)) * (width - label - 10);
  const el = svg('svg', { width: width, height: 30 + shown.length * row, viewBox: `0 0 ${width} ${30 + shown.length * row}`, id: 'timeline-svg' });
  if (byOrder) {
    el.append(svg('text', { x: label, y: 12 }, `event 0 (${when(events[0].at_ms)})`));
    el.append(svg('text', { x: width - 10, y: 12, 'text-anchor': 'end' }, `event ${events.length - 1} (in event order: all within ${span(events[events.length - 1].at_ms - events[0].at_ms)})`));
  } else {
    el.append(svg('text', { x: label, y: 12 }, when(start)));
    el.append(svg('text', { x: width - 10, y: 12, 'text-anchor': 'end' }, `+${span(end - start)}`));
  }
  el.append(svg('line', { x1: label, y1: 18, x2: width - 10, y2: 18, class: 'axis' }));
  shown.forEach((b, i) => {
    const y = 24 + i * row;
    const x = scale(b.from);
    const until = b.to !== null ? b.to : (b.due || end);
    const w = Math.max(3, scale(until) - x);
    const g = svg('g', { class: 'timeline-row' });
    g.append(svg('text', { x: 4, y: y + 11 }, b.label.length > 38 ? b.label.slice(0, 37) + '…' : b.label));
    const rect = svg('rect', { x, y, width: w, height: row - 6, rx: 2, class: b.to === null && !b.due ? 'bar-open' : b.cls });
    const took = byOrder ? `events ${b.from}-${b.to ?? '…'}` : (b.to === null ? 'running' : span(b.to - b.from));
    rect.append(svg('title', {}, `${b.label}: ${took}${b.ticks.length ? `, ${b.ticks.length} failed attempts` : ''}`));
    g.append(rect);
    for (const t of b.ticks) g.append(svg('rect', { x: scale(t) - 1, y: y - 2, width: 2, height: row - 2, class: 'tick' }));
    el.append(g);
  });
  const box = h('div', { class: 'timeline', id: 'timeline' }, el);
  if (list.length === 0) box.append(h('p', { class: 'muted' }, ' No activity, timer or child in this history.'));
  if (list.length > shown.length) box.append(h('p', { class: 'muted' }, `The first ${shown.length} of ${list.length} bars.`));
  return box;
}

function eventList(events, selected, onSelect) {
  let page = Math.floor((selected ?? 0) / EVENT_ROWS);
  const box = h('div', { id: 'events' });
  const paint = () => {
    const rows = events.slice(page * EVENT_ROWS, (page + 1) * EVENT_ROWS).map((e) => h('tr', {
      class: e.index === selected ? 'selected' : '', 'data-index': e.index,
    },
    h('td', { class: 'mono' }, String(e.index)),
    h('td', {}, when(e.at_ms)),
    h('td', { class: 'mono' }, e.event.type),
    h('td', { class: 'mono' }, eventSummary(e)),
    h('td', {}, h('button', { class: 'link pick', onclick: () => onSelect(e.index) }, 'pick'))));
    const pages = Math.max(1, Math.ceil(events.length / EVENT_ROWS));
    box.replaceChildren(
      h('table', {}, h('thead', {}, h('tr', {}, ['#', 'Time', 'Event', 'Details', ''].map((c) => h('th', {}, c)))), h('tbody', {}, rows)),
      h('div', { class: 'pager' },
        h('button', { disabled: page === 0, onclick: () => { page -= 1; paint(); } }, '←'),
        h('span', { class: 'muted' }, `events ${page * EVENT_ROWS}–${Math.min(events.length, (page + 1) * EVENT_ROWS) - 1} of ${events.length}`),
        h('button', { disabled: page + 1 >= pages, onclick: () => { page += 1; paint(); } }, '→')));
  };
  paint();
  return box;
}

/** A search attribute's value for a person: a datetime as a date. */
function searchValueText(v) {
  if (v.type === 'datetime') return when(v.value);
  if (v.type === 'keyword-list') return v.value.join(', ');
  return String(v.value);
}

async function executionPage(id) {
  const d = await api('GET', `/v1/executions/${enc(id)}`);
  const shownRun = parseHash().params.get('run') ? Number(parseHash().params.get('run')) : null;
  const hist = await fetchHistory(id, shownRun);
  const clock = await api('GET', '/v1/clock');
  let meta = null;
  try { meta = await api('GET', `/v1/modules/${enc(d.module)}`); } catch { meta = null; }
  const { params } = parseHash();
  const selected = params.get('event') === null ? null : Number(params.get('event'));
  const open = d.status === 'running' || d.status === 'stalled';

  const summary = h('dl', { class: 'summary', id: 'summary' },
    h('dt', {}, 'Status'), h('dd', {}, badge(d.status), d.cancel_requested ? ' (cancellation requested)' : ''),
    h('dt', {}, 'Workflow type'), h('dd', {}, h('a', { href: `#/types/${enc(d.workflow_type)}` }, d.workflow_type)),
    h('dt', {}, 'Version'), h('dd', { class: 'mono' }, d.version ? `v${d.version} ` : '', d.module.slice(0, 16)),
    h('dt', {}, 'Run'), h('dd', { id: 'runs' }, String(d.run), d.run > 1 ? [' (continued as new from ',
      Array.from({ length: d.run - 1 }, (_, i) => [h('a', { href: `#/executions/${enc(id)}?run=${i + 1}&view=events` }, `run ${i + 1}`), i + 2 < d.run ? ', ' : '']),
      '; the history below is ', shownRun ? `run ${shownRun}` : 'the current run', ')'] : ''),
    h('dt', {}, 'Started'), h('dd', {}, when(d.created_at_ms)),
    h('dt', {}, 'Closed'), h('dd', {}, d.closed_at_ms ? when(d.closed_at_ms) : '—'),
    d.parent ? [h('dt', {}, 'Parent'), h('dd', {}, h('a', { href: `#/executions/${enc(d.parent.id)}` }, d.parent.id))] : null,
    d.search_attributes && Object.keys(d.search_attributes).length > 0
      ? [h('dt', {}, 'Search attributes'), h('dd', {}, h('table', { id: 'search-attributes' }, h('tbody', {},
        Object.entries(d.search_attributes).map(([name, v]) => h('tr', {},
          h('td', { class: 'mono' }, name), h('td', {}, searchValueText(v)), h('td', { class: 'muted' }, v.type))))))]
      : null,
    d.memo && Object.keys(d.memo).length > 0
      ? [h('dt', {}, 'Memo'), h('dd', {}, pre(JSON.stringify(d.memo, null, 2), { id: 'memo' }))]
      : null,
    h('dt', {}, 'Input'), h('dd', {}, pre(JSON.stringify(d.input, null, 2), { id: 'input' })),
    d.output !== null && d.output !== undefined ? [h('dt', {}, 'Result'), h('dd', {}, pre(JSON.stringify(d.output, null, 2), { id: 'result' }))] : null,
    d.failure ? [h('dt', {}, 'Failure'), h('dd', {}, pre(`${d.failure.kind}: ${d.failure.message}${d.failure.details ? `\n${JSON.stringify(d.failure.details, null, 2)}` : ''}`, { id: 'failure' }))] : null,
    d.stall_reason ? [h('dt', {}, 'Stalled'), h('dd', {}, pre(d.stall_reason, { id: 'stall' }))] : null);

  const actions = h('div', { class: 'bar', id: 'actions' },
    h('button', { id: 'act-signal', disabled: !open, onclick: () => sendDialog(d, meta, 'signal') }, 'Signal'),
    h('button', { id: 'act-query', onclick: () => sendDialog(d, meta, 'query') }, 'Query'),
    h('button', {
      id: 'act-query-at', disabled: selected === null, title: 'pick an event in the list first',
      onclick: () => sendDialog(d, meta, 'query', selected),
    }, selected === null ? 'Query at an event (pick one)' : `Query at event ${selected}`),
    h('button', { id: 'act-update', disabled: !open, onclick: () => sendDialog(d, meta, 'update') }, 'Update'),
    h('button', { id: 'act-cancel', class: 'danger', disabled: !open, onclick: () => endDialog(d, 'cancel') }, 'Cancel'),
    h('button', { id: 'act-terminate', class: 'danger', disabled: !open, onclick: () => endDialog(d, 'terminate') }, 'Terminate'),
    h('button', { id: 'act-reset', class: 'danger', disabled: selected === null, title: 'pick an event in the list first', onclick: () => resetDialog(d, selected) },
      selected === null ? 'Reset (pick an event)' : `Reset to event ${selected}`));

  const activities = d.pending_activities.length === 0 ? null : [h('h2', {}, 'Pending activities'),
    h('table', { id: 'pending-activities' }, h('thead', {}, h('tr', {}, ['Handle', 'Activity', 'Attempt', 'Next attempt', 'Last failure', 'Heartbeat'].map((c) => h('th', {}, c)))),
      h('tbody', {}, d.pending_activities.map((a) => h('tr', {},
        h('td', {}, String(a.handle)), h('td', {}, a.name, a.unserved ? ' (no component serves it)' : ''),
        h('td', {}, String(a.attempt)), h('td', {}, when(a.next_attempt_at_ms)),
        h('td', {}, a.last_failure ? a.last_failure.message : ''),
        h('td', { class: 'mono' }, a.heartbeat_details === null || a.heartbeat_details === undefined ? '' : JSON.stringify(a.heartbeat_details))))))];
  const timers = d.pending_timers.length === 0 ? null : [h('h2', {}, 'Pending timers'),
    h('table', {}, h('tbody', {}, d.pending_timers.map((t) => h('tr', {}, h('td', {}, `timer ${t.handle}`), h('td', {}, `fires ${when(t.fire_at_ms)}`)))))];
  // Updates accepted and not finished, from the history.
  const finished = new Set(hist.events.filter((e) => e.event.type === 'update_completed').map((e) => e.event.update_id));
  const pendingUpdates = hist.events.filter((e) => e.event.type === 'update_accepted' && !finished.has(e.event.update_id));
  const updates = pendingUpdates.length === 0 ? null : [h('h2', {}, 'Pending updates'),
    h('table', { id: 'pending-updates' }, h('tbody', {}, pendingUpdates.map((e) => h('tr', {},
      h('td', { class: 'mono' }, e.event.update_id), h('td', {}, e.event.name), h('td', {}, `accepted ${when(e.at_ms)} (event ${e.index})`)))))];
  const children = d.children.length === 0 ? null : [h('h2', {}, 'Children'),
    h('table', { id: 'children' }, h('tbody', {}, d.children.map((c) => h('tr', {},
      h('td', { class: 'mono' }, h('a', { href: `#/executions/${enc(c.id)}` }, c.id)), h('td', {}, c.workflow_type), h('td', {}, badge(c.status)), h('td', {}, c.parent_close_policy)))))];
  const logsBox = h('div', { id: 'logs' });

  const views = {
    timeline: () => timeline(hist.events, clock.now_ms),
    events: () => eventList(hist.events, selected, (index) => {
      const p = new URLSearchParams(parseHash().params);
      p.set('event', String(index));
      p.set('view', 'events');
      location.hash = `#/executions/${enc(id)}?${p}`;
    }),
    json: () => {
      const text = JSON.stringify(hist, null, 2);
      const download = h('button', {
        id: 'download', onclick: () => {
          const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
          const a = h('a', { href: url, download: `${id}.history.json` });
          document.body.append(a); a.click(); a.remove();
          setTimeout(() => URL.revokeObjectURL(url), 1000);
        },
      }, 'Download (weft replay --history FILE)');
      return h('div', {}, h('div', { class: 'bar' }, download), pre(text.length > 2_000_000 ? text.slice(0, 2_000_000) + '\n…' : text, { id: 'raw' }));
    },
  };
  let view = params.get('view') || 'timeline';
  const viewBox = h('div', { id: 'history-view' });
  const tabs = h('div', { class: 'tabs' }, Object.keys(views).map((v) => h('button', {
    id: `tab-${v}`, class: v === view ? 'active' : '',
    onclick: () => {
      view = v;
      // Kept in the address (without a navigation), so a refresh keeps it.
      const p = new URLSearchParams(parseHash().params);
      p.set('view', v);
      history.replaceState(null, '', `#/executions/${enc(id)}?${p}`);
      for (const b of tabs.children) b.classList.toggle('active', b.id === `tab-${v}`);
      viewBox.replaceChildren(views[v]());
    },
  }, v === 'json' ? 'JSON' : v[0].toUpperCase() + v.slice(1))));
  viewBox.replaceChildren(views[view]());

  show(h('h1', {}, h('span', { class: 'mono', id: 'execution-id' }, d.id), badge(d.status)),
    actions, summary, activities, timers, updates, children,
    h('h2', {}, `History (${hist.events.length} events)`), tabs, viewBox,
    h('h2', {}, 'Logs'), logsBox);
  try {
    const logs = await api('GET', `/v1/executions/${enc(id)}/logs`);
    logsBox.replaceChildren(logs.lines.length === 0 ? h('p', { class: 'muted' }, 'Nothing said (lines are kept in the host\'s memory).')
      : pre(logs.lines.map((l) => `${when(l.at_ms)} ${l.source} ${l.level} ${l.line}`).join('\n'), { id: 'log-lines' }));
  } catch (e) { logsBox.replaceChildren(errorBox(e)); }
  if (open) {
    const length = hist.events.length;
    refreshTimer = setInterval(async () => {
      if (document.hidden || !document.getElementById('dialog').hidden) return;
      try {
        const now = await api('GET', `/v1/executions/${enc(id)}`);
        if (now.history_length !== length || now.status !== d.status) route();
      } catch { /* shown on the next route */ }
    }, 2000);
  }
}

function sendDialog(d, meta, kind, atEvent) {
  const names = meta ? (kind === 'signal' ? meta.signals : kind === 'query' ? meta.queries : meta.updates) : [];
  const name = names && names.length
    ? h('select', { id: 'send-name' }, names.map((n) => h('option', { value: n }, n)))
    : h('input', { id: 'send-name', placeholder: `${kind} name` });
  const input = jsonInput('send-input', 'null');
  const past = atEvent === undefined ? null
    : h('p', {}, `As the workflow stood at event ${atEvent}: its history up to that event is replayed in a fresh instance, which answers at the wait it reached there. Nothing is written; the live execution is not touched.`);
  dialog(`${kind[0].toUpperCase()}${kind.slice(1)} ${d.id}${atEvent === undefined ? '' : ` at event ${atEvent}`}`, h('div', {},
    past, h('label', {}, 'Name', name), h('label', {}, 'Input (JSON)', input)),
  kind === 'query' ? 'Ask' : 'Send', async () => {
    const body = { name: name.value, input: parseJson(input.value, 'the input') };
    if (atEvent !== undefined) body.at_event = atEvent;
    const path = `/v1/executions/${enc(d.id)}/${kind === 'signal' ? 'signals' : kind === 'query' ? 'queries' : 'updates'}`;
    const answer = await api('POST', path, body);
    if (kind === 'signal') return h('p', { id: 'answer' }, 'Signal recorded.');
    return pre(JSON.stringify(answer, null, 2), { id: 'answer' });
  });
}

function endDialog(d, kind) {
  const reason = h('input', { id: 'end-reason', placeholder: 'why (kept in the history)' });
  dialog(`${kind === 'cancel' ? 'Cancel' : 'Terminate'} ${d.id}?`, h('div', {},
    h('p', {}, kind === 'cancel'
      ? 'The workflow sees a cancellation at its next wait and may clean up before it ends as cancelled.'
      : 'The execution ends at once; no workflow code runs.'),
    h('label', {}, 'Reason', reason)),
  kind === 'cancel' ? 'Request cancellation' : 'Terminate', async () => {
    await api('POST', `/v1/executions/${enc(d.id)}/${kind}`, reason.value ? { reason: reason.value } : {});
    return h('p', { id: 'answer' }, kind === 'cancel' ? 'Cancellation requested.' : 'Terminated.');
  }, true);
}

function resetDialog(d, event) {
  const reason = h('input', { id: 'reset-reason', placeholder: 'why' });
  dialog(`Reset ${d.id} to event ${event}?`, h('div', {},
    h('p', {}, `Events after ${event} are discarded (kept in the history as such) and the workflow runs again from there; events 0..${event} must replay on the module.`),
    h('label', {}, 'Reason', reason)),
  'Reset', async () => {
    const r = await api('POST', `/v1/executions/${enc(d.id)}/reset`, { to_event: event, reason: reason.value || undefined });
    return pre(JSON.stringify(r, null, 2), { id: 'answer' });
  }, true);
}

// ---- schedules ---------------------------------------------------------

async function schedulesPage() {
  const list = await api('GET', '/v1/schedules');
  show(h('h1', {}, 'Schedules'), list.schedules.length === 0
    ? h('p', { class: 'muted' }, 'No schedule yet: weft schedule create NAME --workflow TYPE --cron "0 2 * * *"')
    : h('table', { id: 'schedules' }, h('thead', {}, h('tr', {}, ['Name', 'Workflow', 'State', 'Next', 'Running', 'Actions'].map((c) => h('th', {}, c)))),
      h('tbody', {}, list.schedules.map((s) => h('tr', {},
        h('td', {}, h('a', { href: `#/schedules/${enc(s.name)}` }, s.name)), h('td', {}, s.action.workflow_type),
        h('td', {}, badge(s.state.paused ? 'paused' : 'active')), h('td', {}, s.next_times.length ? when(s.next_times[0].at_ms) : '—'),
        h('td', {}, String(s.state.running.length)), h('td', {}, String(s.state.actions_taken)))))));
}

function specText(spec) {
  const parts = [];
  for (const c of spec.cron || []) parts.push(`cron "${c}"`);
  for (const i of spec.intervals || []) parts.push(`every ${span(i.every_ms)}${i.offset_ms ? ` (offset ${span(i.offset_ms)})` : ''}`);
  if ((spec.calendars || []).length) parts.push(`${spec.calendars.length} calendar(s)`);
  let text = `${parts.join(', ')} in ${spec.time_zone || 'UTC'}`;
  if (spec.jitter_ms) text += `, jitter up to ${span(spec.jitter_ms)}`;
  if ((spec.exclude_cron || []).length) text += `; except ${spec.exclude_cron.map((c) => `cron "${c}"`).join(', ')}`;
  if (spec.start_at_ms || spec.end_at_ms) text += `; between ${spec.start_at_ms ? when(spec.start_at_ms) : 'any time'} and ${spec.end_at_ms ? when(spec.end_at_ms) : 'any time'}`;
  return text;
}

async function schedulePage(name) {
  const s = await api('GET', `/v1/schedules/${enc(name)}`);
  const act = (path, label, body, danger) => h('button', {
    id: `sched-${path}`, class: danger ? 'danger' : '',
    onclick: () => dialog(`${label} ${name}?`, h('p', {}, ''), label, async () => {
      const r = await api(path === 'delete' ? 'DELETE' : 'POST', path === 'delete' ? `/v1/schedules/${enc(name)}` : `/v1/schedules/${enc(name)}/${path}`, path === 'delete' ? undefined : body);
      if (!r) return h('p', { id: 'answer' }, 'Deleted; what it started runs on.');
      const rs = r.state;
      return h('p', { id: 'answer' }, `${rs.paused ? 'Paused' : 'Active'}; ${rs.pending.length} waiting, ${rs.running.length} running`,
        rs.running.length ? `: ${rs.running.join(', ')}` : '', '.');
    }, danger),
  }, label);
  const st = s.state;
  show(h('h1', {}, name, badge(st.paused ? 'paused' : 'active')),
    h('div', { class: 'bar' }, st.paused ? act('unpause', 'Unpause', {}) : act('pause', 'Pause', {}), act('trigger', 'Trigger now', {}), act('delete', 'Delete', undefined, true)),
    h('dl', { class: 'summary' },
      h('dt', {}, 'Action'), h('dd', {}, `start ${s.action.workflow_type}`, s.action.version ? ` v${s.action.version}` : '', ' with ', h('code', {}, JSON.stringify(s.action.input))),
      h('dt', {}, 'Spec'), h('dd', {}, specText(s.spec)),
      h('dt', {}, 'Policies'), h('dd', {}, `overlap ${s.policies.overlap}, catch-up window ${span(s.policies.catchup_window_ms)}, pause on failure: ${s.policies.pause_on_failure ? 'yes' : 'no'}`),
      h('dt', {}, 'Note'), h('dd', {}, st.note || '—'),
      h('dt', {}, 'Counters'), h('dd', {}, `${st.actions_taken} taken, ${st.skipped_overlap} skipped by the overlap policy, ${st.missed_catchup} missed, ${st.pending.length} waiting`, st.remaining_actions !== null && st.remaining_actions !== undefined ? `, ${st.remaining_actions} remaining` : ''),
      h('dt', {}, 'Running'), h('dd', {}, st.running.length ? st.running.map((id) => [h('a', { href: `#/executions/${enc(id)}`, class: 'mono' }, id), ' ']) : 'none')),
    h('h2', {}, 'Recent actions (newest first)'),
    h('table', { id: 'recent-actions' }, h('thead', {}, h('tr', {}, ['Time', 'Kind', 'Execution', 'Outcome'].map((c) => h('th', {}, c)))),
      h('tbody', {}, st.recent.slice().reverse().map((r) => h('tr', {},
      h('td', {}, when(r.nominal_ms)), h('td', {}, r.kind),
      h('td', { class: 'mono' }, r.execution ? h('a', { href: `#/executions/${enc(r.execution)}` }, r.execution) : '—'), h('td', {}, r.outcome))))),
    h('h2', {}, 'Next times'),
    h('table', {}, h('tbody', {}, s.next_times.map((n) => h('tr', {}, h('td', {}, when(n.at_ms)))))));
}

// ---- workflow types and versions ----------------------------------------

async function typesPage() {
  const list = await api('GET', '/v1/workflow-types');
  const versions = await Promise.all(list.workflow_types.map((t) =>
    api('GET', `/v1/workflow-types/${enc(t.name)}/versions`).catch(() => ({ versions: [] }))));
  show(h('h1', {}, 'Workflow types'),
    h('table', { id: 'types' }, h('thead', {}, h('tr', {}, ['Type', 'Current version', 'Versions', 'Running', 'Stalled', 'Retention'].map((c) => h('th', {}, c)))),
      h('tbody', {}, list.workflow_types.map((t, i) => {
        const vs = versions[i].versions;
        const current = vs.find((v) => v.current);
        const sum = (k) => vs.reduce((n, v) => n + v[k], 0);
        return h('tr', {},
          h('td', {}, h('a', { href: `#/types/${enc(t.name)}` }, t.name)),
          h('td', { class: 'mono' }, current ? `v${current.version} ` : '', t.current_module.slice(0, 12)),
          h('td', {}, String(vs.length)),
          h('td', {}, h('a', { href: `#/executions?workflow_type=${enc(t.name)}&status=running` }, String(sum('running')))),
          h('td', {}, String(sum('stalled'))), h('td', {}, span(t.retention_ms)));
      }))));
}

async function typePage(name) {
  const list = await api('GET', `/v1/workflow-types/${enc(name)}/versions`);
  const report = h('div', { id: 'upgrade-report' });
  const dryRun = async (version) => {
    report.replaceChildren(h('p', { class: 'muted' }, 'Replaying every running execution on it…'));
    try {
      const r = await api('POST', `/v1/workflow-types/${enc(name)}/upgrade`, { to: version, dry_run: true });
      report.replaceChildren(h('h2', {}, `Upgrade to v${r.to_version}: dry run`),
        r.executions.length === 0 ? h('p', { class: 'muted' }, 'Nothing runs on another version.')
          : h('table', {}, h('thead', {}, h('tr', {}, ['Execution', 'From', 'Outcome', 'Divergence'].map((c) => h('th', {}, c)))),
            h('tbody', {}, r.executions.map((e) => h('tr', {},
              h('td', { class: 'mono' }, h('a', { href: `#/executions/${enc(e.id)}` }, e.id)),
              h('td', {}, e.from_version ? `v${e.from_version}` : e.from_module.slice(0, 12)),
              h('td', {}, e.outcome, e.reason ? `: ${e.reason}` : ''),
              h('td', { class: 'mono' }, e.divergence ? `event ${e.divergence.event_index}: recorded ${e.divergence.recorded}, new code ${e.divergence.issued}` : ''))))));
    } catch (e) { report.replaceChildren(errorBox(e)); }
  };
  show(h('h1', {}, name),
    h('table', { id: 'versions' }, h('thead', {}, h('tr', {}, ['Version', 'Module', 'Deployed', 'Running', 'Stalled', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, list.versions.map((v) => h('tr', {},
        h('td', {}, `v${v.version}`, v.current ? ' (current)' : ''), h('td', { class: 'mono' }, v.module.slice(0, 16)), h('td', {}, when(v.deployed_at_ms)),
        h('td', {}, h('a', { href: `#/executions?workflow_type=${enc(name)}&status=running` }, String(v.running))), h('td', {}, String(v.stalled)),
        h('td', {},
          v.current ? null : h('button', {
            onclick: () => dialog(`Make v${v.version} current?`, h('p', {}, `New executions of ${name} start on v${v.version}.`), 'Set current', async () => {
              await api('PUT', `/v1/workflow-types/${enc(name)}/current`, { version: v.version });
              return h('p', {}, 'Done.');
            }),
          }, 'Set current'), ' ',
          h('button', { onclick: () => dryRun(v.version) }, 'Upgrade dry run')))))),
    report);
}

// ---- modules -----------------------------------------------------------

/** The doors opened at deploy: environment variable names (never their
 * values), directories, hosts. */
function doorsText(doors) {
  if (!doors) return '';
  const parts = [];
  if (doors.env && doors.env.length) parts.push(`env ${doors.env.map((e) => e.split('=')[0]).join(', ')}`);
  if (doors.dirs && doors.dirs.length) parts.push(`dirs ${doors.dirs.map((d) => `${d.guest}${d.read_only ? ' (ro)' : ''}`).join(', ')}`);
  if (doors.http && doors.http.length) parts.push(`http ${doors.http.join(', ')}`);
  return parts.join('; ') || 'none';
}

async function modulesPage() {
  const list = await api('GET', '/v1/modules');
  const queues = await api('GET', '/v1/task-queues');
  const queueTable = queues.task_queues.length === 0
    ? h('p', { class: 'muted' }, 'No task queue yet: an activity with a task queue, or a worker polling one, makes it appear.')
    : h('table', { id: 'task-queues' }, h('thead', {}, h('tr', {}, ['Queue', 'Backlog', 'Running', 'Workers polling', 'Last poll'].map((c) => h('th', {}, c)))),
      h('tbody', {}, queues.task_queues.map((q) => h('tr', {},
        h('td', { class: 'mono' }, q.name), h('td', {}, String(q.backlog)), h('td', {}, String(q.running)),
        h('td', {}, String(q.pollers)), h('td', {}, q.last_poll_ms ? when(q.last_poll_ms) : 'never')))));
  show(h('h1', {}, 'Modules'),
    h('table', { id: 'modules' }, h('thead', {}, h('tr', {}, ['Module', 'Kind', 'Serves', 'Handlers', 'Doors', 'Size', 'Deployed'].map((c) => h('th', {}, c)))),
      h('tbody', {}, list.modules.map((m) => h('tr', {},
        h('td', { class: 'mono' }, m.hash.slice(0, 16)), h('td', {}, m.kind),
        h('td', {}, m.workflow_type ? `type ${m.workflow_type}` : (m.activities || []).join(', ')),
        h('td', {}, [['signals', m.signals], ['queries', m.queries], ['updates', m.updates]].filter(([, l]) => l && l.length).map(([k, l]) => `${k}: ${l.join(', ')}`).join('; ')),
        h('td', {}, doorsText(m.doors)),
        h('td', {}, `${Math.round(m.size_bytes / 1024)} KiB`), h('td', {}, when(m.deployed_at_ms)))))),
    h('h2', {}, 'Task queues'), queueTable);
}

// ---- start -------------------------------------------------------------

async function tick() {
  try {
    const c = await api('GET', '/v1/clock');
    document.getElementById('clock').textContent = `host clock ${when(c.now_ms)}${c.manual ? ' (manual)' : ''}`;
  } catch { /* the page shows why */ }
}

window.addEventListener('hashchange', () => { closeDialog(); route(); });
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('forget-token').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN);
    updateTokenButton();
    route();
  });
  updateTokenButton();
  route();
  tick();
  setInterval(() => { if (!document.hidden) tick(); }, 10000);
});
