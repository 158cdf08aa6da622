// smoke.cjs runs the built browser console under Node: it loads
// build/wasm/leasectl.wasm and wasm_exec.js as assets/console.js does in a
// page, with @xterm/headless (the same parser as xterm.js, without the DOM)
// in place of the page's terminal, and checks what the terminal shows:
//
//   - the first frame: the DEMO header, as wide as the terminal, and a row of
//     the demo fleet on each line;
//   - a forced takeover typed in the dialog is written and audited (the lease
//     core refuses it without the program's in-memory auditor);
//   - after a resize, the same at the new size;
//   - ctrl+c ends the program, which tells the page it exited cleanly.
//
// usage: node wasm/smoke.cjs SITE NODE_MODULES
//   SITE          build/wasm (leasectl.wasm, wasm_exec.js)
//   NODE_MODULES  where npm installed assets/package-lock.json
//                 (build/wasm-work/npm/node_modules)
//
// scripts/test-wasm.sh runs it after building.

"use strict";

const fs = require("fs");
const path = require("path");

const [site, modules] = process.argv.slice(2);
if (!site || !modules) {
  console.error("usage: node wasm/smoke.cjs SITE NODE_MODULES");
  process.exit(2);
}
require(path.resolve(site, "wasm_exec.js")); // defines globalThis.Go
const { Terminal } = require(path.resolve(modules, "@xterm/headless"));

// limitMs bounds every wait, so that a console that never draws fails the
// script instead of hanging it.
const limitMs = 60_000;

// The page's terminal, set up as in assets/console.js.
const term = new Terminal({ cols: 100, rows: 30, convertEol: true, allowProposedApi: true });
let exited; // the err given to exited, once called
const host = {
  write(bytes) {
    term.write(bytes);
  },
  size() {
    return { cols: term.cols, rows: term.rows };
  },
  exited(err) {
    exited = err;
  },
};
globalThis.leasectl = host;
term.onData((data) => host.input?.(data));
term.onResize(({ cols, rows }) => host.resize?.(cols, rows));

// screen returns the visible lines, trailing blanks trimmed.
function screen() {
  const buf = term.buffer.active;
  const lines = [];
  for (let y = 0; y < term.rows; y++) {
    lines.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? "");
  }
  return lines;
}

// flushed resolves once the terminal has parsed everything written so far.
function flushed() {
  return new Promise((resolve) => term.write("", resolve));
}

// until waits for check(screen()) to return "" (the frame is right) and
// fails with its last complaint and the screen after limitMs.
async function until(what, check) {
  const deadline = Date.now() + limitMs;
  let complaint;
  for (;;) {
    await flushed();
    const lines = screen();
    complaint = check(lines);
    if (complaint === "") {
      console.log(`smoke: ${what}: ok`);
      return;
    }
    if (Date.now() > deadline) {
      fail(`${what}: ${complaint}`, lines);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function fail(msg, lines = screen()) {
  console.error(`smoke: ${msg}\n--- screen ${term.cols}x${term.rows} ---\n${lines.join("\n")}\n---`);
  process.exit(1);
}

// frame checks a full frame of the demo at the terminal's size.
function frame(lines) {
  const header = lines[0];
  if (!/^leasectl\s+DEMO\s/.test(header)) {
    return `header ${JSON.stringify(header)} does not start with "leasectl DEMO"`;
  }
  if (!header.endsWith("operator:browser") || header.length !== term.cols) {
    return `header ${JSON.stringify(header)} is not ${term.cols} cells ending "operator:browser"`;
  }
  // The key column narrows with the terminal, keeping a key's last
  // segment: "expo…/legacy-billing". The status line may name a key too,
  // so a row is looked for among the lines that start like a table row.
  const rows = lines.filter((l) => /^.?\s*demo\s+expo/.test(l));
  for (const key of ["exports/orders", "exports/payments", "/legacy-billing"]) {
    if (!lines.some((l) => l.includes(key))) {
      return `no line shows ${key}`;
    }
    // One row per line: with a missing carriage return (convertEol) the
    // rows would drift right and wrap.
    const row = rows.find((l) => l.includes(key));
    if (!row || row.length > term.cols) {
      return `no table row starting at column 0 shows ${key}`;
    }
  }
  return "";
}

// newGo is assets/console.js's: the program's timers are cleared when it
// exits (https://github.com/golang/go/issues/72797).
function newGo() {
  const go = new Go();
  const exit = go.exit;
  go.exit = (code) => {
    for (const timer of go._scheduledTimeouts.values()) {
      clearTimeout(timer);
    }
    go._scheduledTimeouts.clear();
    exit(code);
  };
  return go;
}

async function main() {
  const go = newGo();
  const wasm = fs.readFileSync(path.resolve(site, "leasectl.wasm"));
  const { instance } = await WebAssembly.instantiate(wasm, go.importObject);
  const done = go.run(instance);

  await until("first frame at 100x30", frame);

  // A forced takeover of the corrupt key, typed as a visitor would: it
  // writes only if the program has an auditor.
  host.input?.("\x1b[B"); // down: from exports/audit-trail to the next key
  await until("exports/legacy-billing selected", (lines) =>
    lines.some((l) => l.startsWith("▶") && l.includes("exports/legacy-bil")) ? "" : "the cursor is not on it");
  host.input?.("T");
  await until("takeover dialog open", (lines) =>
    lines.some((l) => l.includes("FORCE TAKEOVER")) ? "" : "no FORCE TAKEOVER dialog");
  host.input?.("\rsmoke test\rlegacy-billing\r"); // default ttl, reason, confirmation
  await until("exports/legacy-billing taken over", (lines) => {
    const row = lines.find((l) => l.includes("exports/legacy-bil"));
    if (!row || !/\bheld\s+operator:browser\b/.test(row)) {
      return `its row is ${JSON.stringify(row)}, want it held by operator:browser`;
    }
    return lines.some((l) => l.startsWith("won: took over")) ? "" : "the status line does not say won";
  });

  term.resize(72, 20); // as the FitAddon does when the window changes
  await until("frame after resize to 72x20", frame);

  host.input?.("\x03"); // ctrl+c
  const timer = setTimeout(() => fail("ctrl+c did not end the program"), limitMs);
  await done;
  clearTimeout(timer);
  if (exited !== "") {
    fail(`exited(${JSON.stringify(exited)}), want exited("")`);
  }
  if (host.input !== undefined || host.resize !== undefined) {
    fail("the program left input or resize on the page after it ended");
  }
  console.log("smoke: ctrl+c ends the program cleanly: ok");
}

main().catch((err) => fail(err.stack ?? String(err)));
