// A stand-in for office.js in the task pane tests: an in-memory workbook
// behind the part of the Office.js Excel API that the task pane and xlwings'
// Office.js client use. The test page loads it instead of office.js (the
// browser test routes office.js' address to this file).
//
// It is strict: reading a property that it does not model throws an error
// that names it (and records it in officeStub.missing), so that a call the
// stub does not know fails the test instead of passing unnoticed. Like
// Excel on the web, it refuses a context.sync() whose request (what is
// written) or response (the cells loaded with range.load) carries more than
// 5 MB, and any range of more than 5 million cells, read or written; the
// error has Office.js' code (RequestPayloadSizeLimitExceeded,
// ResponsePayloadSizeLimitExceeded). Each sync's sizes are kept in
// officeStub.syncLog ({request, response}) and the larger of the two in
// officeStub.syncs.
//
// The test reads the workbook back from globalThis.officeStub.
(() => {
  const MAX_ROWS = 1048576;
  const MAX_COLUMNS = 16384;
  const MAX_SYNC_BYTES = 5 * 1024 * 1024;
  const MAX_RANGE_CELLS = 5000000;
  /** The properties of a range that carry one entry per cell. */
  const CELL_PROPERTIES = ["values", "formulas", "numberFormat", "text", "valueTypes"];
  const stub = {
    missing: [],
    calls: [],
    syncs: [],
    syncLog: [],
    // {read: {sheet, row}} or {write: sheet}: the syncs that read that row
    // (0-based) or write to that sheet fail, as Excel fails now and then.
    fault: null,
    // Milliseconds each sync waits, as Excel's round trip does (0: none).
    syncDelay: 0,
    displayLanguage: globalThis.__officeStubLanguage || "en-US",
    workbook: null,
  };
  globalThis.officeStub = stub;

  function strict(target, what) {
    return new Proxy(target, {
      get(object, key, receiver) {
        if (typeof key === "symbol" || key in object || key === "then" || key === "toJSON") {
          return Reflect.get(object, key, receiver);
        }
        stub.missing.push(`${what}.${String(key)}`);
        throw new Error(`office.js stub: ${what}.${String(key)} is not modelled`);
      },
      set(object, key, value) {
        if (!(key in object)) {
          stub.missing.push(`${what}.${String(key)} =`);
          throw new Error(`office.js stub: setting ${what}.${String(key)} is not modelled`);
        }
        object[key] = value;
        return true;
      },
    });
  }

  // --- addresses ------------------------------------------------------------------

  function columnNumber(letters) {
    let number = 0;
    for (const letter of letters.toUpperCase()) number = number * 26 + letter.charCodeAt(0) - 64;
    return number - 1;
  }
  function columnLetters(index) {
    let letters = "";
    for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) {
      letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
    }
    return letters;
  }
  function parseArea(text) {
    const clean = text.replace(/\$/g, "");
    const [first, last = first] = clean.split(":");
    const point = (part, end) => {
      const match = /^([A-Za-z]*)(\d*)$/.exec(part);
      if (!match) throw new Error(`office.js stub: cannot read the address ${text}`);
      const column = match[1] ? columnNumber(match[1]) : end ? MAX_COLUMNS - 1 : 0;
      const row = match[2] ? Number(match[2]) - 1 : end ? MAX_ROWS - 1 : 0;
      return [row, column];
    };
    const [r0, c0] = point(first, false);
    const [r1, c1] = point(last, true);
    return { row: r0, column: c0, rows: r1 - r0 + 1, columns: c1 - c0 + 1 };
  }
  function splitSheet(text) {
    const bang = text.lastIndexOf("!");
    if (bang < 0) return [null, text];
    return [text.slice(0, bang).replace(/^=/, "").replace(/^'|'$/g, "").replace(/''/g, "'"), text.slice(bang + 1)];
  }
  function quoteSheet(name) {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `'${name.replace(/'/g, "''")}'`;
  }

  // --- the workbook ---------------------------------------------------------------

  class Sheet {
    constructor(book, name) {
      this.book = book;
      this.name = name;
      this.cells = new Map();
      this.tables = [];
      this.charts = [];
      this.validations = [];
      this.conditionalFormats = [];
      this.merged = [];
      this.columnWidths = {};
      this.hiddenColumns = [];
      this.freezeAt = null;
      this.names = [];
      this.fonts = {};
      this.fills = {};
      this.formats = {};
      this.pageLayout = {};
      this.rowHeights = {};
    }
    get position() {
      return this.book.sheets.indexOf(this);
    }
    cell(row, column, create) {
      const key = row * MAX_COLUMNS + column;
      let found = this.cells.get(key);
      if (!found && create) {
        found = { value: "", formula: null, numberFormat: "General" };
        this.cells.set(key, found);
      }
      return found;
    }
    usedArea() {
      let r1 = -1, c1 = -1;
      for (const [key, cell] of this.cells) {
        if (cell.value === "" && cell.formula === null) continue;
        r1 = Math.max(r1, Math.floor(key / MAX_COLUMNS));
        c1 = Math.max(c1, key % MAX_COLUMNS);
      }
      return r1 < 0 ? null : { row: 0, column: 0, rows: r1 + 1, columns: c1 + 1 };
    }
  }

  class Book {
    constructor() {
      this.name = "Book1.xlsx";
      this.sheets = [];
      this.names = [];
      this.active = null;
      this.selection = null;
    }
    sheet(name) {
      return this.sheets.find((sheet) => sheet.name.toLowerCase() === String(name).toLowerCase());
    }
  }

  function newBook() {
    const book = new Book();
    const first = new Sheet(book, "Sheet1");
    book.sheets.push(first);
    book.active = first;
    book.selection = { sheet: first, row: 0, column: 0, rows: 1, columns: 1 };
    return book;
  }
  stub.reset = () => {
    stub.workbook = newBook();
    stub.calls = [];
    stub.syncs = [];
    stub.syncLog = [];
    stub.missing = [];
    stub.fault = null;
  };

  /** A workbook from plain data, as a file holds it: each sheet's values from
   * A1 (``rows``), its formulas (``[row, column, formula, computed]``,
   * 0-based), its tables (``{name, address}``), and the defined names
   * (``[name, formula]``). The test fills the stub with it instead of
   * writing the workbook through the pane. */
  stub.load = (text) => {
    const state = typeof text === "string" ? JSON.parse(text) : text;
    const book = new Book();
    book.name = state.name || book.name;
    for (const given of state.sheets) {
      const sheet = new Sheet(book, given.name);
      book.sheets.push(sheet);
      (given.rows || []).forEach((row, r) => {
        row.forEach((value, c) => {
          if (value === "" || value === null) return;
          sheet.cell(r, c, true).value = value;
        });
      });
      for (const [r, c, formula, computed] of given.formulas || []) {
        const cell = sheet.cell(r, c, true);
        cell.formula = formula;
        cell.value = "";
        if (computed !== undefined && computed !== null) cell.computed = computed;
      }
      for (const table of given.tables || []) {
        sheet.tables.push({ name: table.name, address: table.address, hasHeaders: true, style: table.style || "TableStyleMedium2" });
      }
    }
    book.names = (state.names || []).map(([name, formula]) => ({ name, formula }));
    book.active = book.sheets[0];
    book.selection = { sheet: book.sheets[0], row: 0, column: 0, rows: 1, columns: 1 };
    stub.workbook = book;
    stub.calls = [];
    stub.syncs = [];
    stub.syncLog = [];
    stub.missing = [];
  };

  /** More rows for a sheet that ``load`` made: ``rows`` (JSON) from the
   * 0-based row ``first`` on. A large workbook goes in several calls. */
  stub.appendRows = (name, first, text) => {
    const sheet = stub.workbook.sheet(name);
    JSON.parse(text).forEach((row, r) => {
      row.forEach((value, c) => {
        if (value === "" || value === null) return;
        sheet.cell(first + r, c, true).value = value;
      });
    });
  };

  /** Sheet names, in order. */
  stub.sheetNames = () => stub.workbook.sheets.map((sheet) => sheet.name);
  stub.reset();

  /** The workbook as plain data, for the test to compare. Cells of the sheets
   * in ``skip`` are left out (a large data sheet is read by ``rowsOf``). */
  stub.dump = (skip = []) => JSON.stringify({
    names: stub.workbook.names.map((entry) => [entry.name, entry.formula]),
    active: stub.workbook.active.name,
    sheets: stub.workbook.sheets.map((sheet) => ({
      name: sheet.name,
      cells: skip.includes(sheet.name)
        ? []
        : [...sheet.cells].map(([key, cell]) => [
            Math.floor(key / MAX_COLUMNS) + 1,
            (key % MAX_COLUMNS) + 1,
            cell.value,
            cell.formula,
            cell.numberFormat,
          ]),
      used: sheet.usedArea(),
      tables: sheet.tables,
      validations: sheet.validations,
      conditionalFormats: sheet.conditionalFormats.map((rule) => ({
        type: rule.type,
        address: rule.address,
        rule: rule.detail.rule,
        fill: rule.detail.format.fill.color,
        font: rule.detail.format.font.color,
      })),
      charts: sheet.charts,
      merged: sheet.merged,
      freeze: sheet.freezeAt,
      hidden: sheet.hiddenColumns,
      widths: sheet.columnWidths,
      fonts: sheet.fonts,
      fills: sheet.fills,
      formats: sheet.formats,
      rowHeights: sheet.rowHeights,
      pageLayout: sheet.pageLayout,
    })),
  });
  /** Rows ``first`` to ``last`` (1-based) of a sheet's values, as JSON. */
  stub.rowsOf = (name, first, last, columns) => {
    const sheet = stub.workbook.sheet(name);
    const rows = [];
    for (let r = first - 1; r < last; r += 1) {
      const row = [];
      for (let c = 0; c < columns; c += 1) {
        const cell = sheet.cell(r, c, false);
        row.push(cell ? cell.value : "");
      }
      rows.push(row);
    }
    return JSON.stringify(rows);
  };

  // --- objects that the API hands out ----------------------------------------------

  function loadable(object) {
    object.load = () => object;
    return object;
  }

  function collection(what, itemsOf, extra = {}) {
    const object = loadable({
      get items() {
        return itemsOf();
      },
      ...extra,
    });
    return strict(object, what);
  }

  function range(context, sheet, area) {
    const cells = area.rows * area.columns;
    const check = () => {
      if (cells > MAX_RANGE_CELLS) {
        throw new Error(`office.js stub: a range of ${cells} cells is over Excel's 5,000,000`);
      }
    };
    const matrix = (read) => {
      check();
      const rows = [];
      for (let r = 0; r < area.rows; r += 1) {
        const row = [];
        for (let c = 0; c < area.columns; c += 1) row.push(read(sheet.cell(area.row + r, area.column + c, false)));
        rows.push(row);
      }
      return rows;
    };
    const write = (values, kind) => {
      check();
      // xlwings sends a number format as [[format]] whatever the range's size:
      // Excel applies a single value to every cell of the range.
      const single =
        !Array.isArray(values) ||
        (kind === "numberFormat" && values.length === 1 && values[0].length === 1);
      if (single && Array.isArray(values)) values = values[0][0];
      if (!single && (values.length !== area.rows || values.some((row) => row.length !== area.columns))) {
        throw new Error(
          `office.js stub: ${kind} of ${values.length} rows for a range of ${area.rows} x ${area.columns}`,
        );
      }
      context.pending += JSON.stringify(values).length;
      context.written.push(sheet.name);
      for (let r = 0; r < area.rows; r += 1) {
        for (let c = 0; c < area.columns; c += 1) {
          const value = single ? values : values[r][c];
          const cell = sheet.cell(area.row + r, area.column + c, true);
          if (kind === "numberFormat") {
            cell.numberFormat = String(value);
          } else if (typeof value === "string" && value.startsWith("=")) {
            cell.formula = value;
            cell.value = "";
          } else if (typeof value === "string" && value.startsWith("'")) {
            cell.formula = null;
            cell.value = value.slice(1);
          } else {
            cell.formula = null;
            cell.value = value === null ? "" : value;
          }
        }
      }
    };
    const address = () => {
      const first = `${columnLetters(area.column)}${area.row + 1}`;
      const last = `${columnLetters(area.column + area.columns - 1)}${area.row + area.rows}`;
      return `${quoteSheet(sheet.name)}!${first === last ? first : `${first}:${last}`}`;
    };
    const key = `${area.row},${area.column},${area.rows},${area.columns}`;
    const setter = (store, name) => ({
      set(value) { store[key] = { ...store[key], [name]: value }; },
      get() { return (store[key] || {})[name] ?? null; },
      enumerable: true,
    });
    const font = {};
    for (const name of ["bold", "italic", "color", "size", "name", "underline"]) {
      Object.defineProperty(font, name, setter(sheet.fonts, name));
    }
    const fill = {};
    Object.defineProperty(fill, "color", setter(sheet.fills, "color"));
    const format = {
      font: strict(font, "Range.format.font"),
      fill: strict(fill, "Range.format.fill"),
      set columnWidth(value) {
        for (let c = 0; c < area.columns; c += 1) sheet.columnWidths[area.column + c] = value;
      },
      set rowHeight(value) {
        for (let r = 0; r < area.rows; r += 1) sheet.rowHeights[area.row + r] = value;
      },
    };
    for (const name of ["wrapText", "horizontalAlignment", "verticalAlignment", "indentLevel"]) {
      Object.defineProperty(format, name, setter(sheet.formats, name));
    }
    const validated = () => {
      const local = address().split("!")[1];
      const found = sheet.validations.find((entry) => entry.address === local);
      if (!found) throw new Error(`office.js stub: ${local} has no data validation rule yet`);
      return found;
    };
    const validation = loadable({
      type: "None",
      set rule(rule) {
        sheet.validations.push({ address: address().split("!")[1], rule });
      },
      set ignoreBlanks(value) { validated().ignoreBlanks = value; },
      set errorAlert(value) { validated().errorAlert = value; },
    });
    const object = {
      isNullObject: false,
      worksheet: null,
      load(properties) {
        // What comes back with the next sync: the cell properties loaded.
        const names =
          properties === undefined
            ? ["values", "formulas", "numberFormat"]
            : (Array.isArray(properties) ? properties : String(properties).split(","))
                .map((name) => name.trim());
        const cellData = names.filter((name) => CELL_PROPERTIES.includes(name));
        if (cellData.length > 0) {
          context.loads.push({ read: () => cellData.map((name) => object[name]), cells, sheet, area });
        }
        return object;
      },
      get address() { return address(); },
      get rowCount() { return area.rows; },
      get columnCount() { return area.columns; },
      get rowIndex() { return area.row; },
      get columnIndex() { return area.column; },
      get values() {
        return matrix((cell) => (cell ? (cell.formula === null ? cell.value : cell.computed ?? 0) : ""));
      },
      set values(values) { stub.calls.push({ op: "values", address: address() }); write(values, "values"); },
      get formulas() {
        return matrix((cell) => (cell ? cell.formula ?? cell.value : ""));
      },
      set formulas(values) { stub.calls.push({ op: "formulas", address: address() }); write(values, "formulas"); },
      get numberFormat() {
        return matrix((cell) => (cell ? cell.numberFormat : "General"));
      },
      set numberFormat(values) { write(values, "numberFormat"); },
      format: strict(format, "Range.format"),
      dataValidation: strict(validation, "DataValidation"),
      conditionalFormats: strict(
        {
          add(type) {
            const rule = { type, address: address().split("!")[1], priority: 0 };
            const detail = strict(
              {
                // A custom rule's formula is set on its (read-only) rule object.
                rule: type === "Custom" ? { formula: null } : null,
                format: strict(
                  {
                    fill: strict({ color: null }, "ConditionalFormat.format.fill"),
                    font: strict({ color: null, bold: null, italic: null }, "ConditionalFormat.format.font"),
                  },
                  "ConditionalFormat.format",
                ),
              },
              "ConditionalFormat.detail",
            );
            rule.detail = detail;
            sheet.conditionalFormats.push(rule);
            return strict(
              { get cellValue() { return detail; }, get custom() { return detail; }, set priority(value) { rule.priority = value; }, stopIfTrue: null },
              "ConditionalFormat",
            );
          },
        },
        "ConditionalFormatCollection",
      ),
      merge(across) {
        sheet.merged.push({ address: address().split("!")[1], across });
      },
      getCell(row, column) {
        return range(context, sheet, { row: area.row + row, column: area.column + column, rows: 1, columns: 1 });
      },
      getEntireColumn() {
        const whole = range(context, sheet, { row: 0, column: area.column, rows: MAX_ROWS, columns: area.columns });
        return whole;
      },
      set columnHidden(value) {
        for (let c = 0; c < area.columns; c += 1) {
          if (value) sheet.hiddenColumns.push(area.column + c);
        }
      },
      getSurroundingRegion() { return object; },
      select() { sheet.book.selection = { sheet, ...area }; sheet.book.active = sheet; },
    };
    object.worksheet = worksheet(context, sheet);
    return strict(object, "Range");
  }

  function nullObject(what) {
    return strict(loadable({ isNullObject: true }), what);
  }

  function tableCollection(context, sheet) {
    return collection("TableCollection", () => sheet.tables.map((table) => tableObject(context, sheet, table)), {
      add(address, hasHeaders) {
        const [, local] = splitSheet(String(address));
        const table = { name: `Table${sheet.book.sheets.flatMap((s) => s.tables).length + 1}`, address: local.replace(/\$/g, ""), hasHeaders, style: "TableStyleMedium2" };
        sheet.tables.push(table);
        stub.calls.push({ op: "table", sheet: sheet.name, address: table.address });
        return tableObject(context, sheet, table);
      },
    });
  }

  function tableObject(context, sheet, table) {
    const area = () => parseArea(table.address);
    const headerValues = () => range(context, sheet, { ...area(), rows: 1 }).values[0];
    return strict(
      loadable({
        get name() { return table.name; },
        set name(value) { table.name = value; },
        get style() { return table.style; },
        set style(value) { table.style = value; },
        showHeaders: true,
        showTotals: false,
        showFilterButton: true,
        highlightFirstColumn: false,
        highlightLastColumn: false,
        showBandedRows: true,
        showBandedColumns: false,
        getRange() { return range(context, sheet, area()); },
        getDataBodyRange() { const a = area(); return range(context, sheet, { ...a, row: a.row + 1, rows: a.rows - 1 }); },
        getHeaderRowRange() { return range(context, sheet, { ...area(), rows: 1 }); },
        columns: collection("TableColumnCollection", () => headerValues().map((name) => ({ name: String(name) }))),
      }),
      "Table",
    );
  }

  function axis(chart, kind) {
    chart.axes = chart.axes || {};
    return strict(
      loadable({
        visible: true,
        set numberFormat(value) { chart.axes[kind] = { ...chart.axes[kind], numberFormat: value }; },
      }),
      "ChartAxis",
    );
  }

  function chartObject(context, sheet, chart) {
    const series = strict(
      loadable({
        setXAxisValues(source) { chart.categories = source.address.split("!")[1]; },
      }),
      "ChartSeries",
    );
    return strict(
      loadable({
        get name() { return chart.name; },
        set name(value) { chart.name = value; },
        get chartType() { return chart.type; },
        get left() { return chart.left ?? 0; },
        set left(value) { chart.left = value; },
        get top() { return chart.top ?? 0; },
        set top(value) { chart.top = value; },
        get width() { return chart.width ?? 360; },
        set width(value) { chart.width = value; },
        get height() { return chart.height ?? 216; },
        set height(value) { chart.height = value; },
        set style(value) { chart.style = value; },
        title: strict(
          {
            set text(value) { chart.title = value; },
            get text() { return chart.title; },
            set visible(value) { chart.titleVisible = value; },
          },
          "ChartTitle",
        ),
        series: collection("ChartSeriesCollection", () => [series]),
        legend: strict({ set visible(value) { chart.legend = value; } }, "ChartLegend"),
        axes: strict(
          {
            categoryAxis: axis(chart, "category"),
            valueAxis: axis(chart, "value"),
          },
          "ChartAxes",
        ),
        set plotVisibleOnly(value) { chart.plotVisibleOnly = value; },
        set displayBlanksAs(value) { chart.displayBlanksAs = value; },
        setPosition(start) {
          chart.anchor = typeof start === "string" ? start : start.address.split("!")[1];
        },
      }),
      "Chart",
    );
  }

  function worksheet(context, sheet) {
    const object = loadable({
      isNullObject: false,
      get name() { return sheet.name; },
      set name(value) { sheet.name = value; },
      get position() { return sheet.position; },
      set position(value) {
        const book = sheet.book;
        book.sheets.splice(book.sheets.indexOf(sheet), 1);
        book.sheets.splice(Math.min(value, book.sheets.length), 0, sheet);
      },
      visibility: "Visible",
      showGridlines: true,
      getRange(address = "A1") {
        return range(context, sheet, parseArea(splitSheet(address)[1]));
      },
      getRangeByIndexes(row, column, rows, columns) {
        return range(context, sheet, { row, column, rows, columns });
      },
      getUsedRangeOrNullObject() {
        const area = sheet.usedArea();
        return area ? range(context, sheet, area) : nullObject("Range");
      },
      activate() { sheet.book.active = sheet; },
      delete() {
        const book = sheet.book;
        if (!book.sheets.includes(sheet)) throw new Error(`office.js stub: the sheet ${sheet.name} is gone already`);
        book.sheets.splice(book.sheets.indexOf(sheet), 1);
        if (book.active === sheet) book.active = book.sheets[0];
        if (book.selection && book.selection.sheet === sheet) {
          book.selection = { sheet: book.active, row: 0, column: 0, rows: 1, columns: 1 };
        }
        stub.calls.push({ op: "deleteSheet", name: sheet.name });
      },
      get tables() { return tableCollection(context, sheet); },
      get charts() {
        return collection("ChartCollection", () => sheet.charts.map((chart) => chartObject(context, sheet, chart)), {
          get count() { return sheet.charts.length; },
          getItemAt(index) { return chartObject(context, sheet, sheet.charts[index]); },
          add(type, source, seriesBy) {
            const chart = { name: `Chart ${sheet.charts.length + 1}`, type, source: source.address.split("!")[1], seriesBy };
            sheet.charts.push(chart);
            stub.calls.push({ op: "chart", sheet: sheet.name, source: chart.source });
            return chartObject(context, sheet, chart);
          },
        });
      },
      get pivotTables() { return collection("PivotTableCollection", () => []); },
      get shapes() { return collection("ShapeCollection", () => []); },
      get names() { return collection("NamedItemCollection(sheet)", () => []); },
      pageLayout: strict(
        {
          getPrintAreaOrNullObject() { return nullObject("RangeAreas"); },
          set orientation(value) { sheet.pageLayout.orientation = value; },
          set zoom(value) { sheet.pageLayout.zoom = value; },
          setPrintTitleRows(rows) { sheet.pageLayout.printTitleRows = rows; },
        },
        "PageLayout",
      ),
      freezePanes: strict({ freezeAt(target) { sheet.freezeAt = target.address.split("!")[1]; } }, "FreezePanes"),
    });
    return strict(object, `Worksheet(${sheet.name})`);
  }

  function namedItem(context, entry) {
    return strict(
      loadable({
        name: entry.name,
        formula: entry.formula,
        type: "Range",
        getRangeOrNullObject() {
          const [sheetName, local] = splitSheet(entry.formula);
          const sheet = context.book.sheet(sheetName);
          return sheet ? range(context, sheet, parseArea(local)) : nullObject("Range");
        },
      }),
      "NamedItem",
    );
  }

  function requestContext() {
    const book = stub.workbook;
    const context = { book, pending: 0, loads: [], written: [] };
    const worksheets = collection("WorksheetCollection", () => book.sheets.map((sheet) => worksheet(context, sheet)), {
      add(name) {
        if (book.sheet(name)) throw new Error(`office.js stub: a sheet named ${name} exists already`);
        const sheet = new Sheet(book, name);
        book.sheets.push(sheet);
        stub.calls.push({ op: "addSheet", name });
        return worksheet(context, sheet);
      },
      getItem(name) {
        const sheet = book.sheet(name);
        if (!sheet) throw new Error(`office.js stub: no sheet ${name}`);
        return worksheet(context, sheet);
      },
      getItemOrNullObject(name) {
        const sheet = book.sheet(name);
        return sheet ? worksheet(context, sheet) : nullObject("Worksheet");
      },
      getActiveWorksheet() { return worksheet(context, book.active); },
    });
    context.workbook = strict(
      loadable({
        get name() { return book.name; },
        worksheets,
        names: collection("NamedItemCollection", () => book.names.map((entry) => namedItem(context, entry)), {
          add(name, reference) {
            book.names.push({ name, formula: String(reference) });
            stub.calls.push({ op: "name", name, formula: String(reference) });
          },
        }),
        application: strict(loadable({ calculationMode: "Automatic" }), "Application"),
        getSelectedRange() {
          const selection = book.selection;
          return range(context, selection.sheet, selection);
        },
      }),
      "Workbook",
    );
    context.application = strict(
      {
        cultureInfo: strict(
          loadable({
            name: "en-US",
            datetimeFormat: strict(loadable({ shortDatePattern: "M/d/yyyy" }), "DatetimeFormatInfo"),
          }),
          "CultureInfo",
        ),
      },
      "Application",
    );
    context.sync = async () => {
      // Excel's round trip, when a test wants the page to draw between syncs.
      if (stub.syncDelay) await new Promise((resolve) => setTimeout(resolve, stub.syncDelay));
      const request = context.pending;
      const loads = context.loads;
      const written = context.written;
      context.pending = 0;
      context.loads = [];
      context.written = [];
      // A fault that a test asks for: Excel failing a read or a write.
      const fault = stub.fault;
      if (fault && fault.read && loads.some((load) => load.sheet.name === fault.read.sheet &&
          load.area.row <= fault.read.row && fault.read.row < load.area.row + load.area.rows)) {
        throw limitError("GeneralException", "office.js stub: an error occurred (as asked by the test)");
      }
      if (fault && fault.write && written.includes(fault.write)) {
        throw limitError("GeneralException", "office.js stub: an error occurred (as asked by the test)");
      }
      let response = 0;
      let refused = null;
      for (const load of loads) {
        if (load.cells > MAX_RANGE_CELLS) {
          refused = refused || limitError(
            "InvalidArgument",
            `office.js stub: a range of ${load.cells} cells is over Excel's 5,000,000`,
          );
          continue;
        }
        response += JSON.stringify(load.read()).length;
      }
      stub.syncLog.push({ request, response });
      stub.syncs.push(Math.max(request, response));
      if (request > MAX_SYNC_BYTES) {
        throw limitError(
          "RequestPayloadSizeLimitExceeded",
          `office.js stub: a request of ${request} bytes is over Office.js' 5 MB`,
        );
      }
      if (response > MAX_SYNC_BYTES) {
        throw limitError(
          "ResponsePayloadSizeLimitExceeded",
          `office.js stub: a response of ${response} bytes is over Office.js' 5 MB`,
        );
      }
      if (refused) throw refused;
    };
    return strict(context, "RequestContext");
  }

  /** An error as Excel's RichApi.Error carries it: a code and a message. */
  function limitError(code, message) {
    const error = new Error(message);
    error.name = "RichApi.Error";
    error.code = code;
    return error;
  }

  // --- the globals ------------------------------------------------------------------

  globalThis.Excel = strict(
    {
      run: async (batch) => {
        const context = requestContext();
        const result = await batch(context);
        await context.sync();
        return result;
      },
      // new Excel.RequestContext(): a context outside Excel.run.
      RequestContext: function RequestContext() {
        return requestContext();
      },
      ShapeType: { image: "Image" },
      ChartType: { line: "Line" },
    },
    "Excel",
  );

  stub.associated = [];
  globalThis.CustomFunctions = strict(
    { associate(id, handler) { stub.associated.push(id); } },
    "CustomFunctions",
  );

  globalThis.Office = strict(
    {
      onReady: async (callback) => {
        const info = { host: "Excel", platform: "OfficeOnline" };
        if (callback) callback(info);
        return info;
      },
      context: strict(
        {
          get displayLanguage() { return stub.displayLanguage; },
          diagnostics: { platform: "OfficeOnline", version: "16.0.stub" },
          requirements: strict(
            {
              isSetSupported(name, version) {
                // ExcelApi up to 1.17: notes (1.18) are outside.
                const minor = Number(String(version).split(".")[1] || 0);
                return name === "ExcelApi" && String(version).startsWith("1.") && minor <= 17;
              },
            },
            "Office.context.requirements",
          ),
        },
        "Office.context",
      ),
      HostType: { Excel: "Excel" },
    },
    "Office",
  );
})();
