// Drives a running `kpi serve` with the JavaScript Excel itself would load:
// the task pane's config, xlwings' HTTP helper (utils.js) and xlwings'
// custom-functions client with the add-in's stubs, all fetched from the
// server. Only what Excel provides is stubbed: Office, Excel,
// CustomFunctions, and the browser's XMLHttpRequest and localStorage.
//
//   node office_js_client.mjs BASE_URL < calls.json > results.json
//
// calls.json: [{"id": "NPS", "args": [[[10], [9]]]}, ...]; each call gets an
// invocation with a cell address, as Excel passes one. Prints, per call,
// {"value": ...} or {"error": {"code": ..., "message": ...}}, and the number
// of HTTP requests the client made.

import vm from "node:vm";

const base = process.argv[2];
const calls = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

// --- the browser --------------------------------------------------------------
let requests = 0;

class XMLHttpRequest {
  open(method, url) {
    this.method = method;
    this.url = url;
    this.headers = {};
  }
  setRequestHeader(key, value) {
    this.headers[key] = value;
  }
  getResponseHeader(name) {
    return this.responseHeaders?.get(name) ?? null;
  }
  send(body) {
    requests++;
    const controller = new AbortController();
    const timer = this.timeout ? setTimeout(() => controller.abort(), this.timeout) : null;
    fetch(this.url, { method: this.method, headers: this.headers, body, signal: controller.signal })
      .then(async (response) => {
        this.status = response.status;
        this.statusText = response.statusText;
        this.responseHeaders = response.headers;
        this.responseText = await response.text();
        this.onload();
      })
      .catch((error) => (error.name === "AbortError" ? this.ontimeout() : this.onerror()))
      .finally(() => timer && clearTimeout(timer));
  }
}

const storage = new Map();
Object.assign(globalThis, {
  XMLHttpRequest,
  window: { location: { origin: base } },
  localStorage: {
    getItem: (key) => storage.get(key) ?? null,
    setItem: (key, value) => storage.set(key, String(value)),
  },
});

// --- Office.js ------------------------------------------------------------------
const supported = { CustomFunctionsRuntime: "1.4", ExcelApi: "1.12", SharedRuntime: "1.1" };
function isSetSupported(name, version) {
  const have = supported[name];
  if (!have) return false;
  const [a, b] = have.split(".").map(Number);
  const [c, d] = String(version).split(".").map(Number);
  return a > c || (a === c && b >= d);
}

class RequestContext {
  constructor() {
    this.workbook = { name: "Survey.xlsx", load() {} };
    this.application = {
      cultureInfo: {
        name: "en-US",
        load() {},
        datetimeFormat: { shortDatePattern: "M/d/yyyy", load() {} },
      },
    };
  }
  async sync() {}
}

class CustomFunctionsError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const associated = new Map();
globalThis.Office = {
  onReady(callback) {
    if (callback) callback({ host: "Excel", platform: "OfficeOnline" });
    return Promise.resolve({ host: "Excel", platform: "OfficeOnline" });
  },
  context: { requirements: { isSetSupported } },
};
globalThis.Excel = { RequestContext, run: async (batch) => batch(new RequestContext()) };
globalThis.CustomFunctions = {
  associate: (id, fn) => associated.set(id, fn),
  Error: CustomFunctionsError,
  ErrorCode: { invalidValue: "#VALUE!", divisionByZero: "#DIV/0!", notAvailable: "#N/A" },
};

// --- what the task pane loads ---------------------------------------------------
async function text(path) {
  const response = await fetch(base + path);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
  return response.text();
}

const taskpane = await text("/taskpane.html");
const configJson = taskpane.match(/<script id="config" type="application\/json">([^<]*)<\/script>/);
globalThis.config = JSON.parse(configJson[1]);

// xlwings' HTTP helper and culture look-ups, as an ES module from the server.
const utils = await import(
  "data:text/javascript;base64," + Buffer.from(await text("/static/js/utils.js")).toString("base64")
);
globalThis.xlwings = {
  getCultureInfoName: utils.getCultureInfoName,
  getDateFormat: utils.getDateFormat,
};

// The custom-functions client and its stubs: a classic script, as Excel runs it.
vm.runInThisContext(await text("/xlwings/custom-functions-code.js"), {
  filename: "custom-functions-code.js",
});

// --- calls, as Excel makes them -------------------------------------------------
const results = [];
for (const [index, call] of calls.entries()) {
  const fn = associated.get(call.id);
  if (!fn) {
    results.push({ missing: call.id });
    continue;
  }
  const invocation = { address: `Sheet1!B${index + 2}`, setResult() {} };
  try {
    results.push({ value: await fn(...call.args, invocation) });
  } catch (error) {
    results.push({ error: { code: error.code ?? null, message: error.message } });
  }
}
console.log(JSON.stringify({ associated: [...associated.keys()], requests, results }));
