// The task pane of the KPI add-in: start a KPI workbook in the open workbook,
// refresh the report, browse the KPIs and insert one into the selected cell.
//
// The work is done by xlwings: "Start" runs a script of kpi serve
// (addin/scripts.py) and "Refresh" asks kpi serve for the report
// (addin/report/pane.py); both answers are Book API actions, which xlwings'
// own client (globalThis.xlwings, /static/js/custom-scripts/index.js) carries
// out with Office.js. Reading the workbook for the refresh, page setup and
// the insertion of a formula are Office.js of our own.
// Everything comes from kpi serve itself: no request goes elsewhere.

const page = JSON.parse(document.getElementById("kpi-page").textContent);
let language = "en";
let said = page.words.en;
let kpis = [];
let chosen = null;

function say(key, values = {}) {
  return (said[key] || page.words.en[key] || key).replace(/\{(\w+)\}/g, (whole, name) =>
    name in values ? String(values[name]) : whole,
  );
}

/** The language of Office's interface, when it is one of ours. */
function officeLanguage() {
  const shown = (globalThis.Office && Office.context && Office.context.displayLanguage) || "en";
  const primary = shown.split("-")[0].toLowerCase();
  return page.languages.includes(primary) ? primary : "en";
}

function spinner() {
  // The spinner that xlwings' client draws on its buttons while a script runs.
  const span = document.createElement("span");
  span.className = "spinner-border spinner-border-sm text-white";
  span.setAttribute("role", "status");
  span.setAttribute("aria-hidden", "true");
  return span;
}

async function busy(button, work) {
  const turning = spinner();
  button.disabled = true;
  button.appendChild(turning);
  hideError();
  try {
    return await work();
  } catch (error) {
    showError(error);
    return undefined;
  } finally {
    turning.remove();
    button.disabled = false;
  }
}

function showError(error) {
  const message = typeof error === "string" ? error : (error && error.message) || String(error);
  const alert = document.getElementById("global-error-alert");
  // A refresh's own failures say already what failed, in the pane's words;
  // what Excel said comes on a line of its own, in Excel's words.
  alert.querySelector("span").textContent =
    error instanceof RefreshError ? message : say("failed", { message });
  const detail = error instanceof RefreshError ? error.detail : "";
  const line = alert.querySelector(".kpi-error-detail");
  line.textContent = detail ? say("detail", { message: detail }) : "";
  line.classList.toggle("d-none", !detail);
  alert.classList.remove("d-none");
}

function hideError() {
  const alert = document.getElementById("global-error-alert");
  alert.classList.add("d-none");
  // xlwings' client shows its own errors in the same alert, in its span only.
  const line = alert.querySelector(".kpi-error-detail");
  line.textContent = "";
  line.classList.add("d-none");
}

function show(id, text) {
  const element = document.getElementById(id);
  element.textContent = text;
  element.classList.toggle("d-none", !text);
}

async function auth() {
  const found =
    typeof globalThis.getAuth === "function" ? await globalThis.getAuth() : { token: "", provider: "" };
  const headers = { "Content-Type": "application/json" };
  if (found.token) headers.Authorization = found.token;
  if (found.provider) headers["Auth-Provider"] = found.provider;
  return { token: found.token || "", provider: found.provider || "", headers };
}

async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers: { Accept: "application/json", ...headers } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw body.detail || response.statusText;
  return body;
}

// --- words ---------------------------------------------------------------------

function applyWords() {
  document.documentElement.lang = language;
  document.title = say("title");
  for (const element of document.querySelectorAll("[data-word]")) {
    element.textContent = say(element.dataset.word);
  }
  const sheets = page.sheets[language];
  document.getElementById("start-text").textContent = say("start_text", sheets);
  document.getElementById("kpi-search").placeholder = say("search");
  document.getElementById("sample-rows").placeholder = say("rows_hint");
  document.getElementById("kpi-version").textContent = say("version", { version: page.version });
  // The intro names the namespace this server registers (KPI, KPI_DEV...).
  const intro = document.getElementById("kpi-intro");
  intro.replaceChildren();
  const parts = say("intro").split(/(\{prefix\}|\{example\})/);
  for (const part of parts) {
    if (part === "{prefix}" || part === "{example}") {
      const code = document.createElement("code");
      code.textContent = part === "{prefix}" ? `=${page.namespace}.` : page.example;
      intro.appendChild(code);
    } else {
      intro.appendChild(document.createTextNode(part));
    }
  }
  const types = document.getElementById("business-type");
  const selected = types.value;
  types.replaceChildren(
    ...page.business_types.map((type) => new Option(type.title[language], type.id)),
  );
  if (selected) types.value = selected;
  document.getElementById("workbook-language").value = language;
}

// --- tabs ------------------------------------------------------------------------

function showTab(name) {
  for (const button of document.querySelectorAll("[data-tab]")) {
    const active = button.dataset.tab === name;
    button.classList.toggle("active", active);
    button.setAttribute("aria-selected", String(active));
    document.getElementById(`panel-${button.dataset.tab}`).classList.toggle("d-none", !active);
  }
}

// --- a. start a KPI workbook here -----------------------------------------------

function stepText(step) {
  if (step.kind === "rows") {
    return say("step_rows", {
      sheet: step.sheet,
      first: step.first.toLocaleString(language),
      last: step.last.toLocaleString(language),
    });
  }
  return say(step.kind === "sheets" ? "step_sheets" : "step_finish");
}

/** One step of start_workbook: a book without its values (the script needs
 * only the sheet names), the script's answer, its actions run by xlwings. */
async function runStep(args, headers) {
  await Excel.run(async (context) => {
    const payload = await xlwings.getBookData({ lazy: true, headers: {} }, context);
    payload.args = args;
    const response = await fetch("/xlwings/custom-scripts-call/start_workbook", {
      method: "POST",
      headers,
      body: JSON.stringify(payload),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw answer.detail || response.statusText;
    await xlwings.runActions(answer, context);
  });
}

/** What xlwings' Book API has no action for, written with Office.js from the
 * server's description: each sheet's page setup, how each chart plots its
 * hidden columns and #N/A (the starter's charts read hidden columns), and
 * whether each data rule lets blanks through and stops a wrong entry. */
async function writeOfficeJsParts(parts) {
  await Excel.run(async (context) => {
    for (const sheet of parts.sheets) {
      const layout = context.workbook.worksheets.getItem(sheet.name).pageLayout;
      if (sheet.orientation) layout.orientation = sheet.orientation;
      if (sheet.fit_width !== null) {
        layout.zoom = { horizontalFitToPages: sheet.fit_width, verticalFitToPages: sheet.fit_height };
      }
      if (sheet.print_title_rows) layout.setPrintTitleRows(sheet.print_title_rows);
    }
    for (const chart of parts.charts) {
      const found = context.workbook.worksheets.getItem(chart.sheet).charts.getItemAt(chart.index);
      found.plotVisibleOnly = chart.plot_visible_only;
      found.displayBlanksAs = chart.display_blanks;
    }
    for (const rule of parts.validations) {
      const validation = context.workbook.worksheets
        .getItem(rule.sheet)
        .getRange(rule.address).dataValidation;
      validation.ignoreBlanks = rule.ignore_blanks;
      validation.errorAlert = { showAlert: rule.show_alert, style: "Stop" };
    }
    await context.sync();
  });
}

async function startWorkbook(event) {
  event.preventDefault();
  const button = document.getElementById("start-button");
  show("start-done", "");
  await busy(button, async () => {
    const type = document.getElementById("business-type").value;
    const lang = document.getElementById("workbook-language").value;
    const rows = document.getElementById("sample-rows").value.trim();
    const query = new URLSearchParams({ type, lang, rows });
    const { headers } = await auth();
    const plan = await getJson(`/taskpane/starter?${query}`, headers);
    const progress = document.getElementById("start-progress");
    const bar = document.getElementById("start-bar");
    progress.classList.remove("d-none");
    try {
      for (const [index, step] of plan.steps.entries()) {
        document.getElementById("start-step").textContent =
          `${stepText(step)} (${index + 1}/${plan.steps.length})`;
        bar.style.width = `${Math.round((100 * index) / plan.steps.length)}%`;
        await runStep([plan.business_type, plan.language, plan.as_of, plan.rows, index], headers);
      }
      await writeOfficeJsParts(plan.office_js);
      bar.style.width = "100%";
      show("start-done", say("started", { count: plan.sheets.length, ...page.sheets[language] }));
    } finally {
      progress.classList.add("d-none");
    }
  });
}

// --- b. refresh the report ----------------------------------------------------------
//
// Excel on the web refuses an Office.js request or answer over 5 MB, so the
// pane does not send the whole workbook (xlwings' runPython would read every
// sheet in one sync). It reads the workbook's structure, asks kpi serve which
// columns the report needs (/taskpane/refresh-plan: the recipes' tables and
// columns, with rows per read sized from the columns' kinds), reads those in
// chunks, sends them in one request (/taskpane/refresh) and writes the answer
// in batches to a sheet of its own, which then takes the old report's place:
// the old report stays as it was until the new one is whole.

/** A failure of the refresh that says, in the pane's words, what failed. */
/** A refresh that failed: ``message`` is a whole sentence of the pane's
 * language; ``detail``, what Excel or xlwings said, shown under it. */
class RefreshError extends Error {
  constructor(message, detail) {
    super(message);
    this.detail = detail;
  }
}

function isSizeRefusal(error) {
  const code = (error && error.code) || "";
  return (
    code === "RequestPayloadSizeLimitExceeded" ||
    code === "ResponsePayloadSizeLimitExceeded" ||
    /payload size/i.test((error && error.message) || "")
  );
}

/** Sheet names, defined names, and each table's place, header and size. */
async function readStructure() {
  return Excel.run(async (context) => {
    const sheets = context.workbook.worksheets.load("items/name");
    const names = context.workbook.names.load("items/name");
    await context.sync();
    const tables = sheets.items.map((sheet) => ({ sheet, tables: sheet.tables.load("items/name") }));
    await context.sync();
    const found = [];
    for (const { sheet, tables: collection } of tables) {
      for (const table of collection.items) {
        found.push({
          sheet: sheet.name,
          name: table.name,
          header: table.getHeaderRowRange().load("values, rowIndex, columnIndex"),
          body: table.getDataBodyRange().load("rowCount"),
        });
      }
    }
    await context.sync();
    const structure = { sheets: sheets.items.map((sheet) => sheet.name), names: [], tables: {} };
    structure.names = names.items.map((item) => item.name);
    for (const { sheet, name, header, body } of found) {
      structure.tables[name] = {
        sheet,
        row: header.rowIndex,
        column: header.columnIndex,
        rows: body.rowCount,
        columns: header.values[0].map(String),
      };
    }
    return structure;
  });
}

async function postJson(url, body, headers) {
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw answer.detail || response.statusText;
  return answer;
}

/** The named cells and the plan's columns, chunk by chunk. A chunk that
 * Excel refuses as too large is read again in halves; the next chunk is cut
 * to what the bytes of the last one measured. */
async function readColumns(plan, progress) {
  const named = {};
  const columns = {};
  let done = 0;
  await Excel.run(async (context) => {
    const items = context.workbook.names.load("items/name");
    await context.sync();
    const wanted = items.items.filter((item) => plan.names.includes(item.name));
    const ranges = wanted.map((item) => [item.name, item.getRangeOrNullObject()]);
    for (const [, range] of ranges) range.load("values");
    await context.sync();
    for (const [name, range] of ranges) {
      if (!range.isNullObject) named[name] = range.values;
    }
    for (const table of plan.tables) {
      const got = Object.fromEntries(table.columns.map((column) => [column.id, []]));
      const sheet = context.workbook.worksheets.getItem(table.sheet);
      let rows = table.chunk_rows;
      let first = 0;
      while (first < table.rows) {
        const count = Math.min(rows, table.rows - first);
        let values;
        try {
          const ranges = table.columns.map((column) =>
            sheet.getRangeByIndexes(table.row + 1 + first, column.index, count, 1).load("values"),
          );
          await context.sync();
          values = ranges.map((range) => range.values);
        } catch (error) {
          if (isSizeRefusal(error) && count > 1) {
            rows = Math.ceil(count / 2);
            continue;
          }
          throw new RefreshError(
            say("refresh_read_failed", {
              table: table.name,
              first: (first + 1).toLocaleString(language),
              last: (first + count).toLocaleString(language),
            }),
            (error && error.message) || String(error),
          );
        }
        let bytes = 0;
        table.columns.forEach((column, index) => {
          const target = got[column.id];
          for (const row of values[index]) target.push(row[0]);
          bytes += JSON.stringify(values[index]).length;
        });
        first += count;
        done += count;
        progress(done);
        if (bytes > 0) {
          rows = Math.max(1, Math.min(table.chunk_rows, Math.floor((count * plan.chunk_bytes) / bytes)));
        }
      }
      columns[table.name] = got;
    }
  });
  return { named, columns };
}

/** The report's actions, batch by batch, on a sheet of their own; then that
 * sheet takes the old report's place and name in one sync. */
async function writeReport(answer) {
  try {
    for (const batch of answer.batches) {
      await Excel.run(async (context) => xlwings.runActions({ actions: batch }, context));
    }
  } catch (error) {
    await Excel.run(async (context) => {
      const written = context.workbook.worksheets.getItemOrNullObject(answer.temporary);
      await context.sync();
      if (!written.isNullObject) written.delete();
      await context.sync();
    }).catch(() => undefined);
    throw new RefreshError(say("refresh_write_failed"), (error && error.message) || String(error));
  }
  await Excel.run(async (context) => {
    const sheets = context.workbook.worksheets;
    const fresh = sheets.getItem(answer.temporary);
    // The new report was written just before the old one, which it replaces.
    if (answer.replaces) sheets.getItem(answer.sheet).delete();
    fresh.name = answer.sheet;
    fresh.activate();
    await context.sync();
  });
}

async function refreshReport() {
  const button = document.getElementById("refresh-button");
  show("refresh-done", "");
  const progress = document.getElementById("refresh-progress");
  const bar = document.getElementById("refresh-bar");
  const step = document.getElementById("refresh-step");
  const at = (share, text) => {
    bar.style.width = `${Math.round(100 * share)}%`;
    progress.querySelector("[role=progressbar]").setAttribute("aria-valuenow", String(Math.round(100 * share)));
    step.textContent = text;
  };
  await busy(button, async () => {
    const { headers } = await auth();
    progress.classList.remove("d-none");
    try {
      at(0, "");
      const structure = await readStructure();
      const plan = await postJson("/taskpane/refresh-plan", structure, headers);
      const total = plan.rows.toLocaleString(language);
      const shown = (done) =>
        at(0.8 * (plan.rows ? done / plan.rows : 1), say("refresh_rows", { done: done.toLocaleString(language), total }));
      shown(0);
      const read = await readColumns(plan, shown);
      at(0.85, say("refresh_computing"));
      const answer = await postJson("/taskpane/refresh", { structure, ...read }, headers);
      at(0.9, say("refresh_writing"));
      await writeReport(answer);
      at(1, say("refresh_writing"));
      show("refresh-done", say("refreshed"));
    } finally {
      progress.classList.add("d-none");
    }
  });
}

// --- c. the KPI browser ----------------------------------------------------------------

function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

function listKpis() {
  const words = fold(document.getElementById("kpi-search").value).split(/\s+/).filter(Boolean);
  const list = document.getElementById("kpi-list");
  const found = kpis.filter((kpi) => {
    const text = fold(`${kpi.title} ${kpi.id} ${kpi.excel_name} ${kpi.definition}`);
    return words.every((word) => text.includes(word));
  });
  list.replaceChildren(
    ...found.map((kpi) => {
      const item = document.createElement("li");
      item.className = "list-group-item list-group-item-action";
      item.dataset.kpi = kpi.id;
      item.tabIndex = 0;
      item.textContent = kpi.title;
      const name = document.createElement("small");
      name.textContent = kpi.excel_name;
      item.appendChild(name);
      item.classList.toggle("active", chosen !== null && chosen.id === kpi.id);
      return item;
    }),
  );
  document.getElementById("kpi-none").classList.toggle("d-none", found.length > 0);
}

function table(rows, head) {
  const element = document.createElement("table");
  element.className = "table table-sm";
  if (head) {
    const header = element.createTHead().insertRow();
    for (const text of head) {
      const cell = document.createElement("th");
      cell.textContent = text;
      header.appendChild(cell);
    }
  }
  const body = element.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    for (const text of row) line.insertCell().textContent = text;
  }
  return element;
}

function showKpi(id) {
  chosen = kpis.find((kpi) => kpi.id === id) || null;
  const detail = document.getElementById("kpi-detail");
  detail.classList.toggle("d-none", chosen === null);
  show("insert-done", "");
  listKpis();
  if (chosen === null) return;
  document.getElementById("kpi-title").textContent = chosen.title;
  document.getElementById("kpi-call").textContent = chosen.call;
  document.getElementById("kpi-definition").textContent = chosen.definition;
  document.getElementById("kpi-formula").textContent = chosen.formula;
  document.getElementById("kpi-help").href = chosen.help;
  document.getElementById("kpi-examples").replaceChildren(
    ...chosen.examples.map((example) =>
      table([
        ...example.inputs.map(([name, value]) => [name, value]),
        [say("gives"), example.result],
      ]),
    ),
  );
  const bands = document.getElementById("kpi-bands");
  bands.replaceChildren();
  for (const profile of chosen.bands) {
    if (profile.rows.length === 0) continue;
    const title = document.createElement("p");
    title.className = "small fw-semibold mb-1";
    title.textContent = profile.business_type;
    bands.append(title, table(profile.rows.map((row) => [row.word, row.range])));
  }
}

async function insertFormula() {
  if (chosen === null) return;
  const formula = chosen.call;
  await busy(document.getElementById("insert-button"), async () => {
    let address = "";
    await Excel.run(async (context) => {
      // The top-left cell of the selection gets the formula (Office.js
      // formulas are always written in English, with commas).
      const cell = context.workbook.getSelectedRange().getCell(0, 0);
      cell.formulas = [[formula]];
      cell.load("address");
      await context.sync();
      address = cell.address;
    });
    show("insert-done", say("inserted", { formula, address }));
  });
}

// --- start ---------------------------------------------------------------------------

async function main() {
  await Office.onReady();
  language = officeLanguage();
  said = page.words[language];
  applyWords();
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  document.getElementById("start-form").addEventListener("submit", startWorkbook);
  document.getElementById("refresh-button").addEventListener("click", refreshReport);
  document.getElementById("kpi-search").addEventListener("input", listKpis);
  const list = document.getElementById("kpi-list");
  list.addEventListener("click", (event) => {
    const item = event.target.closest("[data-kpi]");
    if (item) showKpi(item.dataset.kpi);
  });
  list.addEventListener("keydown", (event) => {
    const item = event.target.closest("[data-kpi]");
    if (item && (event.key === "Enter" || event.key === " ")) showKpi(item.dataset.kpi);
  });
  document.getElementById("insert-button").addEventListener("click", insertFormula);
  try {
    kpis = await getJson(`/taskpane/kpis?lang=${language}`);
  } catch (error) {
    showError(error);
  }
  listKpis();
  document.body.dataset.ready = "true";
}

main();
