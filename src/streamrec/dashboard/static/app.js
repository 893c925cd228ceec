// streamrec's dashboard: plain JavaScript over the API's JSON, charts by the vendored uPlot.
// The key typed above is kept in this tab's sessionStorage and sent as the API's own
// "Authorization: Bearer" header; the page holds no data of its own.
"use strict";

const KEY_NAME = "streamrec.apiKey";
const page = document.getElementById("page");
let timers = [];  // a page's refresh timers, cleared when another page opens
let charts = [];  // a page's uPlot charts, destroyed likewise

// ---- the API --------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code;
  }
}

async function api(path) {
  const key = sessionStorage.getItem(KEY_NAME);
  const headers = key ? {Authorization: `Bearer ${key}`} : {};
  const response = await fetch(path, {headers, cache: "no-store"});
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, body);
  }
  const type = response.headers.get("content-type") || "";
  if (type.startsWith("application/json")) return response.json();
  if (type.startsWith("image/")) return response.blob();
  return response.text();
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, one);
  }
  return search.toString();
}

// ---- building the page (text only through textContent: ids and texts are data) ----------
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmt(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  return value.toLocaleString("en-US", {maximumFractionDigits: digits,
                                        minimumFractionDigits: 0});
}

function when(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19);
}

// how an item is named: its title, else the start of its text (as the API's reasons do)
function label(item) {
  if (typeof item.title === "string" && item.title.trim()) return item.title;
  const text = item.text || "";
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

function itemLink(itemId, label) {
  return el("a", {href: `#/items?${query({id: itemId})}`, "data-item": itemId,
                  text: label || itemId});
}

function problem(error, what) {
  if (error instanceof ApiError && error.status === 401)
    return el("p", {class: "error", "data-error": "401",
                    text: `${what}: this server needs an API key (type it above).`});
  if (error instanceof ApiError && error.status === 403)
    return el("p", {class: "error", "data-error": "403",
                    text: `${what}: ${error.message} (an admin key shows this page).`});
  return el("p", {class: "error", "data-error": String(error.status || "network"),
                  text: `${what}: ${error.message}`});
}

// a page has shown its data: the tests wait for this, and read the mark's time
function loaded(name) {
  page.dataset.loaded = name;
  performance.mark("dashboard-loaded", {detail: name});
}

function card(label, value, name) {
  return el("div", {class: "card"}, el("div", {class: "label", text: label}),
            el("div", {class: "value", "data-figure": name, text: value}));
}

function table(headings, rows, attributes = {}) {
  return el("table", attributes,
            el("thead", {}, el("tr", {}, headings.map((h) => el("th", {text: h})))),
            el("tbody", {}, rows));
}

const PALETTE = ["#2f6fdb", "#e4572e", "#17a398", "#ffb400", "#8f2d56", "#5b5f97",
                 "#76b041", "#3c3c3b", "#c17817"];

function chart(container, title, labels, xs, columns, options = {}) {
  const box = el("div", {class: "chart", "data-chart": title}, el("h3", {text: title}));
  container.append(box);
  const width = Math.max(320, box.clientWidth - 16);
  const series = [{}, ...labels.map((label, n) => ({
    label, stroke: PALETTE[n % PALETTE.length], width: 2,
    fill: options.bars ? PALETTE[n % PALETTE.length] + "55" : undefined,
    paths: options.bars && uPlot.paths.bars ? uPlot.paths.bars({size: [0.8]}) : undefined,
    points: {show: xs.length < 3},
  }))];
  const plot = new uPlot({width, height: 200, series, scales: {x: {time: options.time !== false}},
                          axes: [{}, {size: 60}], legend: {live: true}},
                         [xs, ...columns], box);
  charts.push(plot);
  return plot;
}

// ---- pages -------------------------------------------------------------------------------
async function overview() {
  page.replaceChildren(el("h1", {text: "Overview"}));
  const cards = el("div", {class: "cards", id: "figures"});
  const grid = el("div", {class: "charts"});
  const quality = el("div", {class: "charts"});
  page.append(cards, el("h2", {text: "Over the last hour (this process)"}), grid,
              el("h2", {text: "Online quality per source and for the blend (HR@10, decayed)"}),
              quality);
  let plots = null;

  async function refresh() {
    let stats, history;
    try {
      [stats, history] = await Promise.all([api("/v1/stats"), api("/v1/stats/history")]);
    } catch (error) {
      cards.replaceChildren(problem(error, "Statistics"));
      return;
    }
    const samples = history.samples;
    const last = samples[samples.length - 1] || {};
    cards.replaceChildren(
      card("events", fmt(stats.events), "events"),
      card("events/s", fmt(last.events_per_s, 1), "events_per_s"),
      card("learn lag (entries)", fmt(stats.learn_lag_events), "learn_lag_events"),
      card("users", fmt(stats.users), "users"),
      card("items", fmt(stats.items), "items"),
      card("requests/s", fmt(last.requests_per_s, 1), "requests_per_s"),
      card("latency p50 (ms)", fmt(last.latency_p50_ms, 2), "latency_p50_ms"),
      card("latency p99 (ms)", fmt(last.latency_p99_ms, 2), "latency_p99_ms"),
      card("refits", fmt(stats.refits), "refits"),
      card("refit failures", fmt(stats.refit_failures), "refit_failures"),
      card("snapshot age (s)", fmt(stats.seconds_since_snapshot), "seconds_since_snapshot"),
      card("snapshot lag (entries)",
           fmt(Math.max(0, stats.log_offset - stats.last_snapshot_offset)),
           "snapshot_lag_events"),
    );
    const xs = samples.map((s) => s.time);
    const column = (name) => samples.map((s) => s[name]);
    const experts = Object.keys(stats.online_quality || {}).sort(
      (a, b) => (a === "blend" ? -1 : b === "blend" ? 1 : a.localeCompare(b)));
    const hr = experts.map((e) => samples.map((s) => ((s.online_quality || {})[e] || {}).hr ?? null));
    const weight = experts.map((e) => samples.map((s) => ((s.online_quality || {})[e] || {}).weight ?? null));
    const data = [
      [["clients' events per second"], [column("events_per_s")]],
      [["learn lag (log entries)"], [column("learn_lag_events")]],
      [["requests per second"], [column("requests_per_s")]],
      [["p50 ms", "p99 ms"], [column("latency_p50_ms"), column("latency_p99_ms")]],
      [["refits", "refit failures"], [column("refits"), column("refit_failures")]],
      [["snapshot lag (entries)"], [column("snapshot_lag_events")]],
    ];
    if (plots === null || plots.experts.join() !== experts.join()) {
      charts.forEach((c) => c.destroy());
      charts = [];
      grid.replaceChildren();
      quality.replaceChildren();
      const titles = ["Events/s", "Learn lag", "Request rate", "Latency", "Refits",
                      "Snapshots"];
      const made = data.map(([labels, columns], n) => chart(grid, titles[n], labels, xs, columns));
      const hrPlot = experts.length ? chart(quality, "Online HR@10", experts, xs, hr) : null;
      const weightPlot = experts.length ? chart(quality, "Blend weights", experts, xs, weight) : null;
      plots = {experts, made, hrPlot, weightPlot};
      if (!experts.length) quality.append(el("p", {class: "note",
        text: "No online measurements yet: the engine measures its sources once events arrive."}));
    } else {
      data.forEach(([, columns], n) => plots.made[n].setData([xs, ...columns]));
      if (plots.hrPlot) plots.hrPlot.setData([xs, ...hr]);
      if (plots.weightPlot) plots.weightPlot.setData([xs, ...weight]);
    }
    loaded("overview");
    return history.sample_s;
  }
  const every = (await refresh()) || 5;
  timers.push(setInterval(refresh, Math.max(1000, every * 1000)));
}

async function events() {
  page.replaceChildren(el("h1", {text: "Live events"}),
                       el("p", {class: "note", text: "The log's newest entries, newest first; " +
                         "users and sessions as the log stores them (pseudonyms when the " +
                         "server has a pseudonym secret). Needs an admin key."}));
  const pause = el("input", {type: "checkbox", id: "pause"});
  page.append(el("label", {}, pause, " pause"));
  const holder = el("div");
  page.append(holder);

  async function refresh() {
    if (pause.checked) return;
    let found;
    try {
      found = await api(`/v1/admin/events?${query({limit: 100})}`);
    } catch (error) {
      holder.replaceChildren(problem(error, "Live events"));
      return;
    }
    const rows = found.events.map((e) => el("tr", {"data-offset": e.offset},
      el("td", {class: "num", text: e.offset}), el("td", {text: when(e.timestamp)}),
      el("td", {text: e.user_id ? e.user_id : e.session_id ? `session ${e.session_id}` : "(engine)"}),
      el("td", {text: e.type}), el("td", {}, e.type.startsWith("$") ? e.item_id : itemLink(e.item_id)),
      el("td", {class: "num", text: e.value ?? ""}), el("td", {text: e.recommendation_id || ""})));
    holder.replaceChildren(table(["offset", "time (UTC)", "user / session", "type", "item",
                                  "value", "feedback on list"], rows, {id: "events-table"}));
    loaded("events");
  }
  await refresh();
  timers.push(setInterval(refresh, 2000));
}

function params() {
  const hash = location.hash.split("?")[1] || "";
  return new URLSearchParams(hash);
}

async function items() {
  const wanted = params();
  const box = el("input", {name: "q", id: "item-search", value: wanted.get("q") || "",
                           placeholder: "id or text, e.g. jacket"});
  const form = el("form", {class: "inline", onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/items?${query({q: box.value})}`;
  }}, el("label", {}, "find an item", box), el("button", {type: "submit", text: "Search"}));
  page.replaceChildren(el("h1", {text: "Items"}), form);
  if (wanted.get("id")) return item(wanted.get("id"));
  if (!wanted.get("q")) {
    loaded("items");
    return;
  }
  let found;
  try {
    found = await api(`/v1/items?${query({q: wanted.get("q"), limit: 50})}`);
  } catch (error) {
    page.append(problem(error, "Search"));
    return;
  }
  const rows = found.items.map((i) => el("tr", {},
    el("td", {}, itemLink(i.item_id)), el("td", {text: label({title: i.attributes.title, text: i.text})}),
    el("td", {text: i.attributes.category || ""}), el("td", {text: i.available ? "" : "unavailable"})));
  page.append(rows.length ? table(["item", "title or text", "category", ""], rows, {id: "item-results"})
              : el("p", {class: "muted", text: "No item holds that text."}));
  loaded("items");
}

async function item(itemId) {
  let found, similar, history;
  try {
    [found, similar, history] = await Promise.all([
      api(`/v1/items/${encodeURIComponent(itemId)}`),
      api(`/v1/items/${encodeURIComponent(itemId)}/similar?${query({k: 10, fields: "title,text"})}`),
      api(`/v1/popular/history?${query({item_id: itemId, days: 30})}`)]);
  } catch (error) {
    page.append(problem(error, `Item ${itemId}`));
    return;
  }
  const attributes = Object.entries(found.attributes).map(([name, value]) =>
    el("tr", {}, el("th", {text: name}),
       el("td", {"data-attribute": name, text: typeof value === "string" ? value : JSON.stringify(value)})));
  page.append(el("div", {class: "panel", id: "item-detail", "data-item-id": found.item_id},
    el("h2", {text: `${found.attributes.title || found.item_id}`}),
    el("p", {}, "id ", el("code", {text: found.item_id}), found.available ? "" : " (unavailable)"),
    attributes.length ? table(["attribute", "value"], attributes) : el("p", {class: "muted", text: "No attributes."}),
    el("p", {id: "item-text", text: found.text || ""})));
  const rows = similar.items.map((s, n) => el("tr", {"data-similar": s.item_id},
    el("td", {class: "num", text: n + 1}), el("td", {}, itemLink(s.item_id)),
    el("td", {text: label(s)}), el("td", {class: "num", text: fmt(s.score, 4)}),
    el("td", {text: s.reasons.join("; ")})));
  page.append(el("h2", {text: "Similar items"}),
              rows.length ? table(["#", "item", "title or text", "score", "reasons"], rows, {id: "similar-table"})
              : el("p", {class: "muted", text: "No similar items yet."}));
  page.append(el("h2", {text: "Popularity over time (events per day, UTC)"}));
  const grid = el("div", {class: "charts"});
  page.append(grid);
  const xs = history.days.map((d) => Date.parse(d.day + "T00:00:00Z") / 1000);
  chart(grid, "Events per day", ["events"], xs, [history.days.map((d) => d.events)], {bars: true});
  if (!history.complete)
    page.append(el("p", {class: "note", text: `Counted in the log's newest ${fmt(history.read_entries)} entries.`}));
  loaded("item");
}

async function users() {
  const wanted = params();
  const field = (name, label, attributes = {}) => el("label", {}, label,
    el("input", {name, value: wanted.get(name) || attributes.value || "", ...attributes}));
  const lines = (name, label, hint) => el("label", {}, label,
    el("textarea", {name, rows: 2, cols: 24, placeholder: hint, text: wanted.getAll(name).join("\n")}));
  const seen = el("input", {type: "checkbox", name: "exclude_seen",
                            checked: wanted.get("exclude_seen") !== "false"});
  const form = el("form", {class: "inline", id: "user-form", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const split = (name) => String(data.get(name) || "").split("\n").map((s) => s.trim()).filter(Boolean);
    location.hash = `#/users?${query({id: data.get("id"), k: data.get("k"),
      exclude_seen: seen.checked ? "" : "false", exclude: data.get("exclude"),
      filter: split("filter"), boost: split("boost"),
      max_per_category: data.get("max_per_category"), diversity_by: data.get("diversity_by")})}`;
  }},
    field("id", "user id", {id: "user-id", required: true}), field("k", "k", {value: "10", size: 4}),
    el("label", {}, "exclude seen", seen), field("exclude", "exclude ids (comma)"),
    lines("filter", "filters, one a line", "category=shoes|bags"),
    lines("boost", "boosts, one a line", "tags=sale:1.5"),
    field("max_per_category", "max per category", {size: 4}),
    field("diversity_by", "diversity by", {size: 10}),
    el("button", {type: "submit", text: "Show"}));
  page.replaceChildren(el("h1", {text: "Users"}), form);
  const userId = wanted.get("id");
  if (!userId) {
    loaded("users");
    return;
  }
  const options = {k: wanted.get("k") || 10, exclude_seen: wanted.get("exclude_seen") || "",
    exclude: wanted.get("exclude"), filter: wanted.getAll("filter"), boost: wanted.getAll("boost"),
    max_per_category: wanted.get("max_per_category"), diversity_by: wanted.get("diversity_by")};
  const path = encodeURIComponent(userId);
  let list, proposed;
  try {
    [list, proposed] = await Promise.all([
      api(`/v1/users/${path}/recommendations?${query({...options, fields: "title,text"})}`),
      api(`/v1/users/${path}/proposals?${query({k: 10, exclude_seen: options.exclude_seen})}`)]);
  } catch (error) {
    page.append(problem(error, `Recommendations for ${userId}`));
    return;
  }
  const listed = new Set(list.items.map((i) => i.item_id));
  const rows = list.items.map((i, n) => el("tr", {"data-recommended": i.item_id},
    el("td", {class: "num", text: n + 1}), el("td", {}, itemLink(i.item_id)),
    el("td", {text: label(i)}), el("td", {class: "num", "data-score": i.item_id, text: fmt(i.score, 4)}),
    el("td", {text: i.reasons.join("; ")})));
  page.append(el("h2", {text: `Recommendations for ${userId}`}),
              el("p", {class: "note", id: "list-facts", text: `recommendation_id ${list.recommendation_id}` +
                (list.experiment ? ` · experiment ${list.experiment}, variant ${list.variant}` : "")}));
  if (list.warnings.length) page.append(el("p", {class: "error", text: list.warnings.join(" ")}));
  page.append(table(["#", "item", "title or text", "score", "reasons"], rows, {id: "recommendations-table"}));
  const sources = Object.entries(proposed.sources);
  page.append(el("h2", {text: "What each source proposed (bold: in the list)"}));
  page.append(sources.length ? el("div", {class: "sources", id: "sources"}, sources.map(([name, found]) =>
    el("div", {class: "panel", "data-source": name}, el("strong", {text: name}),
       el("ol", {}, found.map((p) => el("li", {class: listed.has(p.item_id) ? "listed" : null},
         itemLink(p.item_id), ` ${fmt(p.score, 3)}`))))))
    : el("p", {class: "muted", text: "No history yet: the list is what is popular now."}));
  page.append(el("h2", {text: "Recent events"}));
  try {
    const recent = await api(`/v1/admin/events?${query({user_id: userId, limit: 20})}`);
    page.append(recent.events.length ? table(["time (UTC)", "type", "item", "value"],
      recent.events.map((e) => el("tr", {}, el("td", {text: when(e.timestamp)}), el("td", {text: e.type}),
                                  el("td", {}, itemLink(e.item_id)), el("td", {text: e.value ?? ""}))),
      {id: "user-events"}) : el("p", {class: "muted", text: "No events in the log's newest 100,000 entries."}));
  } catch (error) {
    page.append(problem(error, "Recent events"));
  }
  loaded("user");
}

async function evaluation() {
  page.replaceChildren(el("h1", {text: "Evaluation"}),
    el("p", {class: "note", text: "Reports and plots in the data directory: runs of " +
      "`streamrec evaluate --json DATA_DIR/evaluation-results/NAME.json`, and training " +
      "curves under DATA_DIR/tensorboard/."}));
  let listed;
  try {
    listed = await api("/v1/evaluations");
  } catch (error) {
    page.append(problem(error, "Evaluation"));
    return;
  }
  if (!listed.files.length)
    page.append(el("p", {class: "muted", id: "no-reports", text: "No reports or plots in the data directory yet."}));
  const url = (file) => `/v1/evaluations/${file.path.split("/").map(encodeURIComponent).join("/")}`;
  for (const file of listed.files.filter((f) => f.kind === "json")) {
    const panel = el("div", {class: "panel", "data-report": file.path}, el("h2", {text: file.path}),
                     el("p", {class: "note", text: `written ${when(file.modified)} UTC`}));
    page.append(panel);
    const report = await api(url(file));
    if (report && Array.isArray(report.results) && report.results.length) {
      const columns = Object.keys(report.results[0]).filter(
        (c) => c !== "model" && typeof report.results[0][c] === "number");
      panel.append(el("p", {text: `${report.data || ""} ${report.protocol || ""}`}),
        table(["model", ...columns], report.results.map((r) => el("tr", {},
          el("td", {text: r.model}), columns.map((c) => el("td", {class: "num", text: fmt(r[c], 4)}))))));
    }
    panel.append(el("details", {}, el("summary", {text: "JSON"}),
                    el("pre", {text: JSON.stringify(report, null, 2)})));
  }
  const groups = [["Evaluation plots", (f) => !f.path.startsWith("tensorboard/")],
                  ["Training curves", (f) => f.path.startsWith("tensorboard/")]];
  for (const [title, belongs] of groups) {
    const images = listed.files.filter((f) => f.kind === "png" && belongs(f));
    if (!images.length) continue;
    const plots = el("div", {class: "plots charts"});
    page.append(el("h2", {text: title}), plots);
    for (const file of images) {
      const blob = await api(url(file));
      plots.append(el("figure", {"data-plot": file.path},
        el("img", {src: URL.createObjectURL(blob), alt: file.path}), el("figcaption", {text: file.path})));
    }
  }
  loaded("evaluation");
}

async function experiments() {
  page.replaceChildren(el("h1", {text: "Experiments"}));
  let found;
  try {
    found = await api("/v1/experiments");
  } catch (error) {
    if (error.status !== 404) {
      page.append(problem(error, "Experiments"));
      return;
    }
    page.append(el("p", {class: "muted", id: "no-experiments-api",
                         text: "This server has no experiments API (GET /v1/experiments)."}));
    loaded("experiments");
    return;
  }
  const list = found.experiments || [];
  if (!list.length)
    page.append(el("p", {class: "muted", id: "no-experiments",
                         text: "No experiments yet (streamrec experiments create ...)."}));
  for (const experiment of list) {
    const variants = experiment.variants || [];
    const high = Math.max(0.0001, ...variants.map((v) => v.ci_high ?? v.ctr ?? 0));
    const interval = (low, top) => `${fmt(low, 4)} – ${fmt(top, 4)}`;
    const rows = variants.map((v) => {
      const versus = v.vs_control;
      return el("tr", {"data-variant": v.name, class: v.name === experiment.winner ? "winner" : null},
        el("td", {text: v.name + (v.name === experiment.winner ? " ★" : "")}),
        el("td", {}, el("code", {text: JSON.stringify(v.overrides || {})})),
        el("td", {class: "num", text: fmt(v.users)}), el("td", {class: "num", text: fmt(v.impressions)}),
        el("td", {class: "num", text: fmt(v.clicks)}),
        el("td", {class: "num", "data-ctr": v.name, text: fmt(v.ctr, 4)}),
        el("td", {class: "num", text: interval(v.ci_low, v.ci_high)}),
        el("td", {}, el("div", {class: "ci", title: "95% interval of the rate"}, el("span", {style:
          `left:${100 * Math.max(0, v.ci_low ?? 0) / high}%;width:${Math.max(1, 100 * ((v.ci_high ?? 0) - (v.ci_low ?? 0)) / high)}%`}))),
        el("td", {class: "num", "data-difference": v.name, text: versus
          ? `${versus.difference >= 0 ? "+" : ""}${fmt(versus.difference, 4)} (${interval(versus.ci_low, versus.ci_high)})`
          : "control"}));
    });
    const facts = [experiment.goal ? `goal: ${experiment.goal}` : null,
                   experiment.assignment ? `assignment: ${experiment.assignment}` : null,
                   experiment.started_at ? `started ${when(experiment.started_at)} UTC` : null,
                   experiment.stopped_at ? `stopped ${when(experiment.stopped_at)} UTC` : null]
      .filter(Boolean).join(" · ");
    const panel = el("div", {class: "panel", "data-experiment": experiment.name},
      el("h2", {text: `${experiment.name} (${experiment.status || "?"})`}),
      experiment.description ? el("p", {text: experiment.description}) : "",
      el("p", {class: "verdict", "data-verdict": experiment.name, text: experiment.verdict || ""}),
      el("p", {class: "note", text: facts}),
      table(["variant", "overrides", "users", "lists shown", "lists clicked", "CTR", "95% CI", "",
             "vs control (CI)"], rows));
    if (experiment.problem) panel.append(el("p", {class: "error", text: experiment.problem}));
    page.append(panel);
  }
  loaded("experiments");
}

// ---- routing -----------------------------------------------------------------------------
const PAGES = {overview, events, items, users, evaluation, experiments};

async function route() {
  timers.forEach(clearInterval);
  timers = [];
  charts.forEach((c) => c.destroy());
  charts = [];
  delete page.dataset.loaded;
  const name = (location.hash.replace(/^#\/?/, "").split("?")[0]) || "overview";
  for (const link of document.querySelectorAll("#nav a"))
    link.classList.toggle("active", link.dataset.page === name);
  const show = PAGES[name] || overview;
  try {
    await show();
  } catch (error) {
    page.append(problem(error, "This page"));
  }
}

function showKeyState() {
  document.getElementById("key-state").textContent =
    sessionStorage.getItem(KEY_NAME) ? "key set for this tab" : "no key";
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("key-input");
  if (input.value.trim()) sessionStorage.setItem(KEY_NAME, input.value.trim());
  input.value = "";
  showKeyState();
  route();
});
document.getElementById("key-forget").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_NAME);
  showKeyState();
  route();
});
window.addEventListener("hashchange", route);
showKeyState();
route();
