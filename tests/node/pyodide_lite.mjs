// Runs the files of `kpi lite` in Pyodide, the Python that xlwings Lite runs
// inside Excel, with no network: every package comes from a local wheel.
//
//   node pyodide_lite.mjs WHEELS_DIR LITE_DIR > result.json
//
// WHEELS_DIR holds micropip and packaging (loaded first, as Pyodide's own
// packages), then the wheels listed in WHEELS_DIR/order.json, installed one at
// a time with micropip from Pyodide's file system (emfs:), each with its
// dependencies checked: a dependency without a local wheel would be fetched
// from the package index, which points nowhere, and the run fails.
// LITE_DIR holds main.py, requirements.txt, tests/lite_probe.py's copy and its
// config; it is copied to /lite, the working folder, and the probe run there.
// Prints one JSON line: {"pyodide", "python", "installed", "probe"}; the
// probe's own output is what it printed.

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { loadPyodide } from "pyodide";

const [wheelsDir, liteDir] = process.argv.slice(2);
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

  pyodide.FS.mkdirTree("/wheels");
  for (const name of order.install) {
    pyodide.FS.writeFile(`/wheels/${name}`, readFileSync(path.join(wheelsDir, name)));
  }
  pyodide.FS.mkdirTree("/lite");
  for (const name of readdirSync(liteDir)) {
    pyodide.FS.writeFile(`/lite/${name}`, readFileSync(path.join(liteDir, name)));
  }
  pyodide.globals.set("wheels_to_install", pyodide.toPy(order.install));

  const installed = await pyodide.runPythonAsync(`
  import json, micropip
  # No index to fall back on: what is not installed from a local wheel is missing.
  micropip.set_index_urls(["http://127.0.0.1:9/{package_name}/json"])
  for name in wheels_to_install:
      await micropip.install("emfs:/wheels/" + name)
  json.dumps({name: pkg.version for name, pkg in micropip.list().items()})
  `);
  log(`installed in Pyodide: ${installed}`);

  await pyodide.runPythonAsync(`
  import os, runpy, sys
  # The key that xlwings' Book(json=...) asks for outside xlwings Lite, as the
  # CPython run sets it (tests/addin_support.server_env).
  os.environ["XLWINGS_LICENSE_KEY"] = "noncommercial"
  os.chdir("/lite")
  sys.argv = ["lite_probe.py", "probe.json"]
  runpy.run_path("/lite/lite_probe.py", run_name="__main__")
  `);
  const python = pyodide.runPython("import sys; sys.version.split()[0]");
  log(`Pyodide ${pyodide.version}, Python ${python}: the probe printed ${printed.length} line(s)`);
  process.stdout.write(
    `${JSON.stringify({
      pyodide: pyodide.version,
      python,
      installed: JSON.parse(installed),
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
