// ringd dashboard: plain JavaScript, no build step, nothing loaded from
// elsewhere. It keeps two long-polls open (the whole table and this member's
// partitions) and redraws what changed; members and recent changes are read
// again whenever the table moves, and every few seconds as a backstop.
//
// It watches /partitions/mine with ack=false: a dashboard must never
// acknowledge a release on the application's behalf.
"use strict";

(function () {
  // Long-poll waits. The member's own view is re-read often because its lease
  // runs down and is renewed without the index changing.
  const TABLE_WAIT = "30s";
  const MINE_WAIT = "2s";
  const REFRESH_MS = 10000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const MAX_CHANGES = 50;

  // Distinct colours handed to members in the order they are first seen, so a
  // member keeps its colour while others come and go.
  const PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#2f4b7c", "#a05195", "#00a6a6",
  ];
  const colours = new Map();

  const state = {
    table: null,
    mine: null,
    mineAt: 0,
    members: [],
    changes: [],
    failing: new Map(), // watcher name -> {message, retryAt}
  };

  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  function colourOf(name) {
    if (!colours.has(name)) {
      if (colours.size < PALETTE.length) {
        colours.set(name, PALETTE[colours.size]);
      } else {
        let h = 0;
        for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
        colours.set(name, "hsl(" + (h % 360) + ", 55%, 55%)");
      }
    }
    return colours.get(name);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // getJSON fetches a path of this API (relative to /dashboard) and throws an
  // Error carrying the API's own message for a non-2xx answer.
  async function getJSON(path) {
    const resp = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    if (!resp.ok) {
      const msg = body && typeof body.error === "string" ? body.error : "HTTP " + resp.status;
      const err = new Error(msg);
      err.status = resp.status;
      err.body = body;
      throw err;
    }
    if (body === null) throw new Error("the answer is not JSON");
    return body;
  }

  // watch runs one long-poll loop forever: it reads once, then waits for the
  // next index, and backs off (with jitter) while the member does not answer.
  async function watch(name, path, wait, onData) {
    let index = null;
    let backoff = 0;
    for (;;) {
      const sep = path.includes("?") ? "&" : "?";
      const url = index === null ? path : path + sep + "index=" + index + "&wait=" + wait;
      let data;
      try {
        data = await getJSON(url);
      } catch (err) {
        backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
        const delay = Math.round(backoff * (0.75 + Math.random() * 0.5));
        setFailing(name, { message: err.message, retryAt: Date.now() + delay });
        await sleep(delay);
        continue;
      }
      index = data.index;
      backoff = 0;
      setFailing(name, null);
      // Outside the try: a bug in drawing must show in the console, not pass
      // for a member that does not answer.
      onData(data);
    }
  }

  function setFailing(name, failure) {
    if (failure) state.failing.set(name, failure);
    else state.failing.delete(name);
    renderLink();
  }

  function renderLink() {
    const link = $("link");
    if (state.failing.size === 0) {
      link.dataset.state = state.table ? "live" : "connecting";
      link.textContent = state.table ? "live" : "connecting…";
      document.body.classList.remove("stale");
      return;
    }
    const [first] = state.failing.values();
    const secs = Math.max(0, Math.ceil((first.retryAt - Date.now()) / 1000));
    link.dataset.state = "down";
    link.textContent = "member unreachable: " + first.message + " — retrying in " + secs + " s";
    document.body.classList.add("stale");
  }

  // refresh reads members, readiness and changes; none of them is a watch.
  let refreshing = false;
  let refreshAgain = false;
  async function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    try {
      do {
        refreshAgain = false;
        await refreshOnce();
      } while (refreshAgain);
    } finally {
      refreshing = false;
    }
  }

  async function refreshOnce() {
    const [members, changes, ready] = await Promise.allSettled([
      getJSON("members"),
      getJSON("changes"),
      readiness(),
    ]);
    if (members.status === "fulfilled") {
      state.members = members.value.members || [];
      renderMembers();
    }
    if (changes.status === "fulfilled") {
      state.changes = changes.value.changes || [];
      renderChanges();
    }
    if (ready.status === "fulfilled") {
      renderReady(ready.value);
    }
  }

  // readiness reads /readyz, whose 503 carries a body that is an answer, not
  // a failure.
  async function readiness() {
    try {
      return await getJSON("readyz");
    } catch (err) {
      if (err.status === 503 && err.body) return err.body;
      throw err;
    }
  }

  function renderReady(r) {
    const el = $("ready");
    el.textContent = r.ready ? "yes" : "no";
    el.title = r.reason || "";
  }

  function onTable(t) {
    state.table = t;
    $("leader").textContent = t.leader || "none";
    $("term").textContent = String(t.term);
    $("version").textContent = "v" + t.tableVersion;
    renderFrozen();
    renderGrid();
    renderLegend();
    // Exclusions are in the table, not in the members' answer.
    if (state.members.length > 0) renderMembers();
    renderLink();
    refresh();
  }

  // renderFrozen shows the banner while an operator has frozen the
  // assignment (maintenance mode).
  function renderFrozen() {
    const frozen = Boolean(state.table.frozen);
    $("frozen").hidden = !frozen;
    document.body.classList.toggle("frozen", frozen);
  }

  function onMine(m) {
    const first = state.mine === null;
    state.mine = m;
    state.mineAt = performance.now();
    $("node").textContent = m.node;
    document.title = "ringd · " + m.node;
    renderMine();
    renderStandby();
    renderLease();
    if (first) refresh();
    if (state.table) {
      renderGrid();
      renderLegend();
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function html(tag, cls, text) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // setData sets a data- attribute, or removes it for an empty value, so
  // that [data-x] selects only the elements that have one.
  function setData(el, key, value) {
    if (value) el.dataset[key] = value;
    else delete el.dataset[key];
  }

  // excluded is the set of members an operator keeps from owning
  // partitions, as the table says.
  function excluded() {
    return new Set((state.table && state.table.excluded) || []);
  }

  // weightOf is a member's --weight; an older ringd does not say and
  // weighs 1.
  function weightOf(m) {
    return m.weight ? m.weight : 1;
  }

  // flagsOf lists what is worth knowing about a member beyond its name,
  // each as a CSS class and the words for it.
  function flagsOf(m, out) {
    const self = state.mine ? state.mine.node : "";
    const flags = [];
    if (m.leader) flags.push(["leader", "leader"]);
    if (m.name === self) flags.push(["self", "this member"]);
    if (m.voter) flags.push(["voter", "voter"]);
    if (m.restarting) flags.push(["restarting", "restarting"]);
    else if (!m.alive) flags.push(["dead", "not alive"]);
    if (m.draining) flags.push(["draining", "draining"]);
    if (out.has(m.name)) flags.push(["excluded", "excluded"]);
    if (!m.inConfig) flags.push(["pending", "not admitted yet"]);
    return flags;
  }

  function renderMembers() {
    renderRing();
    renderMemberTable();
  }

  function renderRing() {
    const ring = $("ring");
    clear(ring);
    const ms = state.members;
    const self = state.mine ? state.mine.node : "";
    $("member-count").textContent = "(" + ms.length + ")";
    const cx = 200, cy = 200, r = 140;
    ring.appendChild(svg("circle", { class: "track", cx: cx, cy: cy, r: r }));
    if (ms.length === 0) {
      ring.appendChild(svg("text", { class: "center", x: cx, y: cy }, "no members known yet"));
      return;
    }
    const out = excluded();
    ms.forEach((m, i) => {
      const a = (2 * Math.PI * i) / ms.length - Math.PI / 2;
      const x = cx + r * Math.cos(a);
      const y = cy + r * Math.sin(a);
      const cls = ["member"];
      if (m.leader) cls.push("leader");
      if (m.draining) cls.push("draining");
      if (m.voter) cls.push("voter");
      if (!m.alive) cls.push("dead");
      if (m.restarting) cls.push("restarting");
      if (out.has(m.name)) cls.push("excluded");
      if (m.name === self) cls.push("self");
      const g = svg("g", { class: cls.join(" "), "data-name": m.name });
      const title = svg("title", {},
        m.name + (m.leader ? " (leader)" : "") + "\nrank " + m.rank + ", priority " + m.priority +
        "\n" + (m.alive ? "alive" : "not alive") + (m.draining ? ", draining" : "") +
        (m.restarting ? ", restarting (its partitions are reserved for it)" : "") +
        (m.voter ? ", voter" : ", not a voter") +
        (m.inConfig ? "" : ", not admitted yet") +
        (out.has(m.name) ? "\nexcluded by an operator: owns nothing" : "") +
        "\nzone " + (m.zone || "not set") + ", weight " + weightOf(m) +
        "\nowns " + m.owned + (m.httpAddr ? "\nAPI " + m.httpAddr : ""));
      g.appendChild(title);
      const dot = svg("circle", { cx: x, cy: y, r: 20 });
      // Live members wear their owner colour; a dead one is greyed by CSS
      // (an inline fill would override the .dead rule).
      if (m.alive) dot.style.fill = colourOf(m.name);
      g.appendChild(dot);
      // Labels outside the ring, beside the dot: anchored at their left end
      // on the right half, at their right end on the left half.
      const c = Math.cos(a);
      const sn = Math.sin(a);
      const anchor = c > 0.35 ? "start" : c < -0.35 ? "end" : "middle";
      const lx = x + 28 * c;
      const ly = y + (anchor === "middle" ? 34 * sn + (sn > 0 ? 8 : -14) : 28 * sn - 3);
      const label = { x: lx, y: ly, "text-anchor": anchor };
      g.appendChild(svg("text", Object.assign({ class: "name" }, label), m.name));
      g.appendChild(svg("text", Object.assign({}, label, { y: ly + 15 }),
        m.owned + " partitions" + (m.voter ? " · voter" : "")));
      if (m.leader) g.appendChild(svg("text", { class: "star", x: x, y: y + 6 }, "★"));
      ring.appendChild(g);
    });
    const leader = ms.find((m) => m.leader);
    ring.appendChild(svg("text", { class: "center", x: cx, y: cy },
      leader ? "leader: " + leader.name : "no leader"));
  }

  // renderMemberTable lists the members in ring order with their zone,
  // weight, partition count and state.
  function renderMemberTable() {
    const body = $("member-rows");
    clear(body);
    const out = excluded();
    for (const m of state.members) {
      const flags = flagsOf(m, out);
      const tr = html("tr", flags.map((f) => f[0]).join(" "));
      tr.dataset.name = m.name;
      const name = html("td", "name");
      const sw = html("span", "swatch");
      sw.style.backgroundColor = colourOf(m.name);
      name.appendChild(sw);
      name.appendChild(document.createTextNode(m.name));
      tr.appendChild(name);
      const zone = html("td", "zone" + (m.zone ? "" : " muted"), m.zone || "—");
      tr.appendChild(zone);
      tr.appendChild(html("td", "weight num", String(weightOf(m))));
      tr.appendChild(html("td", "owned num", String(m.owned)));
      const st = html("td", "state");
      for (const [cls, words] of flags) st.appendChild(html("span", "badge " + cls, words));
      tr.appendChild(st);
      body.appendChild(tr);
    }
  }

  function renderGrid() {
    const grid = $("grid");
    const parts = state.table.partitions || [];
    const self = state.mine ? state.mine.node : "";
    $("partition-count").textContent = "(" + parts.length + ")";
    if (grid.childElementCount !== parts.length) {
      clear(grid);
      const frag = document.createDocumentFragment();
      for (let i = 0; i < parts.length; i++) {
        const cell = document.createElement("div");
        cell.className = "cell";
        frag.appendChild(cell);
      }
      grid.appendChild(frag);
    }
    parts.forEach((p, i) => {
      const cell = grid.children[i];
      const owner = p.state === "unassigned" ? "" : p.owner;
      // A partition kept for a restarting member has no owner, but is not
      // free for anyone either.
      const reserved = owner ? "" : p.reservedFor || "";
      const pinned = p.pinnedTo || "";
      const standbys = p.standbys || [];
      const key = [p.id, owner, p.state, p.token, owner === self, pinned, reserved, standbys.join(",")].join("|");
      if (cell.dataset.key === key) return;
      cell.dataset.key = key;
      cell.dataset.id = String(p.id);
      cell.dataset.owner = owner;
      cell.dataset.state = p.state;
      setData(cell, "pinned", pinned);
      setData(cell, "reservedFor", reserved);
      setData(cell, "standbys", standbys.join(" "));
      const cls = ["cell", reserved ? "reserved" : p.state];
      if (owner && owner === self) cls.push("mine");
      if (pinned) cls.push("pinned");
      cell.className = cls.join(" ");
      cell.style.backgroundColor = owner ? colourOf(owner) : "";
      cell.style.borderColor = reserved ? colourOf(reserved) : "";
      const lines = ["partition " + p.id];
      if (owner) lines.push("owner " + owner + " (" + p.state + ")", "token " + p.token);
      else if (reserved) lines.push("reserved for " + reserved + " (restarting): nobody else gets it until it is back");
      else lines.push("unassigned");
      if (pinned) lines.push("pinned to " + pinned + (owner === pinned ? "" : " (not there yet)"));
      if (standbys.length > 0) lines.push("standbys: " + standbys.join(", "));
      cell.title = lines.join("\n");
    });
  }

  function renderLegend() {
    const legend = $("legend");
    clear(legend);
    const counts = new Map();
    let releasing = 0;
    let unassigned = 0;
    let reserved = 0;
    let pinned = 0;
    for (const p of state.table.partitions || []) {
      if (p.pinnedTo) pinned++;
      if (p.state === "unassigned" || !p.owner) {
        if (p.reservedFor) reserved++;
        else unassigned++;
        continue;
      }
      counts.set(p.owner, (counts.get(p.owner) || 0) + 1);
      if (p.state === "releasing") releasing++;
    }
    const names = Array.from(counts.keys()).sort();
    for (const name of names) {
      legend.appendChild(legendItem(name + " · " + counts.get(name), colourOf(name), ""));
    }
    legend.appendChild(legendItem("releasing · " + releasing, "#9aa3af", "releasing"));
    legend.appendChild(legendItem("unassigned · " + unassigned, "", ""));
    if (reserved > 0) legend.appendChild(legendItem("reserved for a restarting member · " + reserved, "", "reserved"));
    if (pinned > 0) legend.appendChild(legendItem("pinned · " + pinned, "#9aa3af", "pinned"));
    if (state.mine) legend.appendChild(legendItem("outlined: " + state.mine.node + "'s", "#ffffff", "mine"));
  }

  function legendItem(text, colour, cls) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch " + cls;
    if (colour) sw.style.backgroundColor = colour;
    li.appendChild(sw);
    li.appendChild(document.createTextNode(text));
    return li;
  }

  function renderMine() {
    const ul = $("mine");
    clear(ul);
    const parts = state.mine.partitions || [];
    if (parts.length === 0) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = state.mine.leaseRemainingMs > 0 ? "owns no partitions" : "no lease: holds nothing";
      ul.appendChild(li);
      return;
    }
    for (const p of parts) {
      const li = document.createElement("li");
      li.className = p.state;
      li.dataset.id = String(p.id);
      li.textContent = p.id + (p.state === "releasing" ? " releasing" : "");
      li.title = "partition " + p.id + ", " + p.state + ", token " + p.token;
      ul.appendChild(li);
    }
  }

  // renderStandby lists the partitions this member is next in line for;
  // the list is hidden when there are none (no --standbys).
  function renderStandby() {
    const list = state.mine.standby || [];
    $("standby-block").hidden = list.length === 0;
    $("standby-count").textContent = "(" + list.length + ")";
    const ul = $("standby");
    clear(ul);
    for (const s of list) {
      const li = html("li", "standby", s.id + " · " + (s.rank === 0 ? "next" : "#" + (s.rank + 1)));
      li.dataset.id = String(s.id);
      li.dataset.rank = String(s.rank);
      setData(li, "owner", s.owner);
      li.title = "partition " + s.id + ": standby #" + (s.rank + 1) +
        (s.owner ? ", owner " + s.owner : ", unassigned now");
      ul.appendChild(li);
    }
  }

  // The lease runs down between answers; the bar is scaled to the largest
  // lease seen, which is the configured lease length.
  let maxLease = 1;
  function renderLease() {
    if (!state.mine) return;
    const left = Math.max(0, state.mine.leaseRemainingMs - (performance.now() - state.mineAt));
    maxLease = Math.max(maxLease, state.mine.leaseRemainingMs);
    const fill = $("lease-fill");
    fill.style.width = Math.min(100, (100 * left) / maxLease).toFixed(1) + "%";
    fill.classList.toggle("low", left < maxLease / 4);
    const n = (state.mine.partitions || []).length;
    $("lease-text").textContent = left > 0
      ? "lease " + (left / 1000).toFixed(1) + " s left · " + n + " partition" + (n === 1 ? "" : "s") + " · index " + state.mine.index
      : "no valid lease · index " + state.mine.index;
  }

  function renderChanges() {
    const ol = $("changes");
    clear(ol);
    const list = state.changes.slice(-MAX_CHANGES).reverse();
    if (list.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "nothing yet";
      ol.appendChild(li);
      return;
    }
    for (const c of list) {
      const li = document.createElement("li");
      const t = document.createElement("time");
      t.dateTime = c.at;
      const d = new Date(c.at);
      t.textContent = isNaN(d.getTime()) ? c.at : d.toLocaleTimeString();
      li.appendChild(t);
      li.appendChild(document.createTextNode(c.what));
      ol.appendChild(li);
    }
  }

  function start() {
    watch("table", "partitions", TABLE_WAIT, onTable);
    watch("mine", "partitions/mine?ack=false&observer=true", MINE_WAIT, onMine);
    setInterval(() => {
      renderLease();
      if (state.failing.size > 0) renderLink();
    }, 200);
    setInterval(() => {
      if (state.failing.size === 0) refresh();
    }, REFRESH_MS);
  }

  start();
})();
