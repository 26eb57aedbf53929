// Runs the add-in's auth.js as the task pane's runtime would, with only what
// Office and the browser provide stubbed (OfficeRuntime.storage,
// localStorage, the xlwings bridge, the task pane's form), and prints what
// getAuth returned and what was stored in each scenario as one JSON object.
//
//   node auth_js.mjs path/to/auth.js > results.json

import { readFileSync } from "node:fs";
import vm from "node:vm";

const code = readFileSync(process.argv[2], "utf-8");

function memoryStorage(entries = new Map()) {
  return {
    entries,
    async getItem(key) {
      return entries.has(key) ? entries.get(key) : null;
    },
    async setItem(key, value) {
      entries.set(key, String(value));
    },
    async removeItem(key) {
      entries.delete(key);
    },
  };
}

function browserStorage(entries = new Map()) {
  return {
    entries,
    getItem: (key) => (entries.has(key) ? entries.get(key) : null),
    setItem: (key, value) => entries.set(key, String(value)),
    removeItem: (key) => entries.delete(key),
  };
}

// One runtime: a fresh global scope in which auth.js runs once.
function runtime({ providers, officeStorage, localStorage, xlwings, document }) {
  const scope = {
    console,
    localStorage: localStorage ?? browserStorage(),
  };
  if (providers !== undefined) scope.config = { authProviders: providers };
  if (officeStorage) scope.OfficeRuntime = { storage: officeStorage };
  if (xlwings) scope.xlwings = xlwings;
  if (document) scope.document = document;
  const context = vm.createContext(scope);
  vm.runInContext(code, context, { filename: "auth.js" });
  return context;
}

const plain = (value) => JSON.parse(JSON.stringify(value));
const results = {};

// --- auth=token, in the shared runtime (OfficeRuntime.storage) ---------------------
const officeEntries = new Map();
const officeStorage = memoryStorage(officeEntries);
const local = browserStorage();
let pane = runtime({ providers: ["token"], officeStorage, localStorage: local });
results.tokenNothingSaved = plain(await pane.getAuth());
await pane.kpiAuth.saveToken("  team-token-0123456789  ");
results.tokenSaved = plain(await pane.getAuth());
results.officeStorageAfterSave = Object.fromEntries(officeEntries);
results.localStorageAfterSave = Object.fromEntries(local.entries);
// Excel restarts: a new runtime reads the token saved before.
pane = runtime({ providers: ["token"], officeStorage });
results.tokenAfterRestart = plain(await pane.getAuth());
await pane.kpiAuth.saveToken("");
results.tokenForgotten = plain(await pane.getAuth());
results.officeStorageAfterForget = Object.fromEntries(officeEntries);

// --- auth=token without OfficeRuntime: localStorage ----------------------------------
const fallback = browserStorage();
pane = runtime({ providers: ["token"], localStorage: fallback });
await pane.kpiAuth.saveToken("team-token-abcdefghij");
results.localStorageFallback = Object.fromEntries(fallback.entries);
results.tokenFromLocalStorage = plain(await runtime({ providers: ["token"], localStorage: fallback }).getAuth());

// --- a storage that fails: no token, no exception -------------------------------------
const broken = {
  async getItem() {
    throw new Error("storage is blocked");
  },
};
const quiet = console.error;
console.error = () => {};
results.tokenStorageBroken = plain(await runtime({ providers: ["token"], officeStorage: broken }).getAuth());
console.error = quiet;

// --- auth=entraid: xlwings' Office single sign-on -----------------------------------
let ssoCalls = 0;
const xlwings = {
  async getAccessToken() {
    ssoCalls += 1;
    return "Bearer sso-access-token";
  },
};
results.entraid = plain(
  await runtime({ providers: ["entraid"], officeStorage: memoryStorage(), xlwings }).getAuth(),
);
results.entraidSsoCalls = ssoCalls;

// --- auth=none, and a page without config -------------------------------------------
results.none = plain(await runtime({ providers: [] }).getAuth());
results.noConfig = plain(await runtime({}).getAuth());

// --- the task pane's form -----------------------------------------------------------
function element() {
  return {
    value: "",
    textContent: "",
    listeners: {},
    addEventListener(type, listener) {
      this.listeners[type] = listener;
    },
  };
}
const form = element();
const input = element();
const status = element();
const elements = {
  "kpi-access-token-form": form,
  "kpi-access-token": input,
  "kpi-access-token-status": status,
};
const document = {
  readyState: "complete",
  getElementById: (id) => elements[id] ?? null,
  addEventListener() {},
};
const formEntries = new Map();
pane = runtime({ providers: ["token"], officeStorage: memoryStorage(formEntries), document });
input.value = "  typed-token-9876543210 ";
let defaultPrevented = false;
await form.listeners.submit({
  preventDefault() {
    defaultPrevented = true;
  },
});
results.form = {
  defaultPrevented,
  inputAfterSave: input.value,
  status: status.textContent,
  stored: Object.fromEntries(formEntries),
  getAuth: plain(await pane.getAuth()),
};
// Opening the task pane again says that a token is saved.
status.textContent = "";
runtime({ providers: ["token"], officeStorage: memoryStorage(formEntries), document });
await new Promise((resolve) => setTimeout(resolve, 0));
results.formReopened = status.textContent;

console.log(JSON.stringify(results));
