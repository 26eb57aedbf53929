// Runs the refresh_report script of `kpi lite`'s main.py in Pyodide against the
// in-memory workbook of tests/officejs_stub.js, through xlwings' own Office.js
// client (the custom-scripts JavaScript that xlwings Lite also runs), with no
// network: every package comes from a local wheel.
//
//   node pyodide_lite_refresh.mjs WHEELS_DIR LITE_DIR XLWINGS_JS_DIR STUB BOOKS > result.json
//
// WHEELS_DIR and LITE_DIR as for pyodide_lite.mjs. XLWINGS_JS_DIR is a copy of
// xlwings-server's static/js folder that Node reads as ES modules. STUB is
// tests/officejs_stub.js. BOOKS is a JSON file: [{"name", "state"}], each state
// a file that officeStub.load takes, or null to refresh the last one again.
//
// What stands in for xlwings Lite's own glue (which is not public) is as small
// as xlwings documents it, and leaves the rest to xlwings' own Python: the
// script is found in main.py by custom_scripts_meta; as its book is annotated
// xw.BookAsync (lazy), the book is read without cell values
// (xlwings.getBookData({lazy: true})), handed to the script as
// xw.Book(json=...) by custom_scripts_call, which marks it lazy, and the
// actions it queued are run by xlwings.runActions. Every cell the script reads goes through
// xlwings' client (getRangeValues) to the stub, which refuses any sync over
// 5 MB as Excel on the web does.
//
// Prints one JSON line: {"pyodide", "books": {name: {"error" | "actions",
// "syncs": [{request, response}], "report": [[row, column, value], ...],
// "sheets": [...]}}}.

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";
import { loadPyodide } from "pyodide";

const [wheelsDir, liteDir, xlwingsJs, stubPath, booksPath] = process.argv.slice(2);
const log = (line) => process.stderr.write(`${line}\n`);

// --- the page xlwings' client expects: its config, and nothing else ------------
const config = {
  appPath: "",
  authProviders: [],
  environment: "test",
  // As in xlwings Lite: the client does not start Pyodide itself.
  isOfficialLiteAddin: true,
  onWasm: true,
  pyodideBaseUrl: "",
  requestTimeout: 300,
  xlwingsVersion: "lite",
};
globalThis.window = globalThis;
// Node 20 has no navigator; xlwings' client prints the browser's user agent.
if (!globalThis.navigator) globalThis.navigator = { userAgent: "Node.js (tests)" };
globalThis.document = {
  getElementById: (id) => (id === "config" ? { textContent: JSON.stringify(config) } : null),
  addEventListener() {},
  querySelector: () => null,
  querySelectorAll: () => [],
};
vm.runInThisContext(readFileSync(stubPath, "utf-8"), { filename: stubPath });
await import(pathToFileURL(path.join(xlwingsJs, "custom-scripts", "index.js")).href);
if (!globalThis.xlwings || typeof globalThis.xlwings.getRangeValues !== "function") {
  throw new Error("xlwings' client did not load");
}

async function main() {
  const pyodide = await loadPyodide({
    stdout: (line) => log(`[python] ${line}`),
    stderr: (line) => log(`[python] ${line}`),
  });
  const order = JSON.parse(readFileSync(path.join(wheelsDir, "order.json"), "utf-8"));
  await pyodide.loadPackage(
    order.bootstrap.map((name) => path.join(wheelsDir, name)),
    { messageCallback: log, errorCallback: log },
  );
  pyodide.FS.mkdirTree("/wheels");
  for (const name of order.install) {
    pyodide.FS.writeFile(`/wheels/${name}`, readFileSync(path.join(wheelsDir, name)));
  }
  pyodide.FS.mkdirTree("/lite");
  for (const name of readdirSync(liteDir)) {
    pyodide.FS.writeFile(`/lite/${name}`, readFileSync(path.join(liteDir, name)));
  }
  pyodide.globals.set("wheels_to_install", pyodide.toPy(order.install));
  await pyodide.runPythonAsync(`
  import micropip
  micropip.set_index_urls(["http://127.0.0.1:9/{package_name}/json"])
  for name in wheels_to_install:
      await micropip.install("emfs:/wheels/" + name)
  `);
  await pyodide.runPythonAsync(`
  import importlib.util, json, os, sys
  os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"
  # As in xlwings Lite: xw.func and xw.script are xlwings.server's.
  os.environ["XLWINGS_ON_SERVER"] = "true"
  sys.path.insert(0, "/lite")
  import js
  import xlwings as xw
  from pyodide.ffi import to_js
  from xlwings import server

  spec = importlib.util.spec_from_file_location("main", "/lite/main.py")
  main = importlib.util.module_from_spec(spec)
  sys.modules["main"] = main
  spec.loader.exec_module(main)
  # The script as xlwings' own discovery finds it in main.py.
  (script,) = [s for s in server.custom_scripts_meta(main) if s["function_name"] == "refresh_report"]

  async def run_refresh():
      """What xlwings Lite does for a script: the book (without values for a
      BookAsync script, as the script's metadata says), the script called by
      name through xlwings' custom_scripts_call, then its actions."""
      options = to_js({"lazy": bool(script["lazy"])}, dict_converter=js.Object.fromEntries)
      book = xw.Book(json=(await js.xlwings.getBookData(options)).to_py())
      try:
          # Marks the book lazy for xw.BookAsync: a synchronous .value read
          # then raises instead of reading nothing.
          book = await server.custom_scripts_call(
              main, script["function_name"], typehint_to_value={xw.Book: book}
          )
      except xw.XlwingsError as error:
          return {"error": str(error)}
      actions = book.json()
      await js.xlwings.runActions(json.dumps(actions))
      return {"actions": len(actions["actions"]), "lazy": book.impl._lazy}
  `);
  const runRefresh = pyodide.globals.get("run_refresh");
  const books = JSON.parse(readFileSync(booksPath, "utf-8"));
  const out = { pyodide: pyodide.version, books: {} };
  for (const { name, state } of books) {
    // No state: refresh again the workbook of the book before.
    if (state) officeStub.load(readFileSync(state, "utf-8"));
    officeStub.syncLog = [];
    const started = Date.now();
    const result = JSON.parse(pyodide.runPython("json.dumps")(await runRefresh()));
    const sheets = officeStub.sheetNames();
    const dump = JSON.parse(officeStub.dump(sheets.filter((sheet) => !/^(Report|Rapport)$/.test(sheet))));
    const report = dump.sheets
      .filter((sheet) => /^(Report|Rapport)$/.test(sheet.name))
      .flatMap((sheet) => sheet.cells.map(([row, column, value]) => [row, column, value]));
    out.books[name] = {
      ...result,
      seconds: (Date.now() - started) / 1000,
      syncs: officeStub.syncLog,
      sheets,
      report,
      missing: officeStub.missing,
    };
    log(`${name}: ${JSON.stringify(result)} in ${(Date.now() - started) / 1000} s`);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

try {
  await main();
} catch (error) {
  log(error && error.message ? error.message : String(error));
  process.exit(1);
}
