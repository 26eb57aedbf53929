// Runs the files of `kpi lite` in Pyodide, the Python that xlwings Lite runs
// inside Excel, as xlwings Lite does: micropip installs what requirements.txt
// lists from a package index.
//
//   node pyodide_lite.mjs WHEELS_DIR LITE_DIR INDEX_URL > result.json
//
// WHEELS_DIR holds micropip and packaging (loaded first, as Pyodide's own
// packages; WHEELS_DIR/order.json names them). LITE_DIR holds main.py,
// requirements.txt, tests/lite_probe.py's copy and its config; it is copied to
// /lite, the working folder. micropip then installs requirements.txt's lines
// from INDEX_URL alone (a package index on 127.0.0.1), with their dependencies:
// nothing comes from anywhere else. The probe runs in /lite.
// Prints one JSON line: {"pyodide", "python", "installed", "sources", "probe"};
// the probe's own output is what it printed.

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { loadPyodide } from "pyodide";

const [wheelsDir, liteDir, indexUrl] = process.argv.slice(2);
const log = (line) => process.stderr.write(`${line}\n`);

// A Python error reaches Node as a PythonError whose message is the traceback:
// print that, not Node's dump of Pyodide's minified source.
async function main() {
  const printed = [];
  const pyodide = await loadPyodide({
    stdout: (line) => printed.push(line),
    stderr: (line) => log(`[python] ${line}`),
  });
  const order = JSON.parse(readFileSync(path.join(wheelsDir, "order.json"), "utf-8"));
  await pyodide.loadPackage(
    order.bootstrap.map((name) => path.join(wheelsDir, name)),
    { messageCallback: log, errorCallback: log },
  );

  pyodide.FS.mkdirTree("/lite");
  for (const name of readdirSync(liteDir)) {
    pyodide.FS.writeFile(`/lite/${name}`, readFileSync(path.join(liteDir, name)));
  }
  pyodide.globals.set("index_url", indexUrl);

  const installed = await pyodide.runPythonAsync(`
  import json, micropip
  # What the requirements.txt tab lists, as xlwings Lite reads it.
  with open("/lite/requirements.txt", encoding="utf-8") as tab:
      wanted = [line.strip() for line in tab if line.strip() and not line.startswith("#")]
  # The index, and only it: Pyodide's own packages are not looked up first.
  micropip.set_index_urls([index_url])
  await micropip.install(wanted)
  json.dumps({
      "wanted": wanted,
      "installed": {name: pkg.version for name, pkg in micropip.list().items()},
      "sources": {name: pkg.source for name, pkg in micropip.list().items()},
  })
  `);
  log(`installed in Pyodide: ${installed}`);

  await pyodide.runPythonAsync(`
  import os, runpy
  # The key that xlwings' Book(json=...) asks for outside xlwings Lite, as the
  # CPython run sets it (tests/addin_support.server_env).
  os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"
  # As in xlwings Lite: xw.func and xw.script are xlwings.server's, which
  # record what Excel is told (set before xlwings is first imported).
  os.environ["XLWINGS_ON_SERVER"] = "true"
  os.chdir("/lite")
  # The probe's main is a coroutine: awaited here, in Pyodide's own event loop.
  await runpy.run_path("/lite/lite_probe.py")["main"]("probe.json")
  `);
  const python = pyodide.runPython("import sys; sys.version.split()[0]");
  log(`Pyodide ${pyodide.version}, Python ${python}: the probe printed ${printed.length} line(s)`);
  process.stdout.write(
    `${JSON.stringify({
      pyodide: pyodide.version,
      python,
      ...JSON.parse(installed),
      probe: JSON.parse(printed[printed.length - 1]),
    })}\n`,
  );
}

try {
  await main();
} catch (error) {
  log(error.message ?? String(error));
  process.exit(1);
}
