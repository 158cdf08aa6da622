// console.js runs leasectl's console (leasectl.wasm, built from wasm/ by
// scripts/build-wasm.sh) in an xterm.js terminal. The object it sets on
// globalThis.leasectl is the whole protocol with the Go side; wasm/main.go
// documents it. The Go side decides whether it shows the demo or the
// stores of the gateway that served the page (`leasectl serve`), and asks
// the page for a token (askToken) when that gateway wants one.
//
// Every file but index.html is served under a versioned path; the files it
// loads are named relative to this module's own URL.

import { Terminal } from "./vendor/xterm/xterm.mjs";
import { FitAddon } from "./vendor/addon-fit/addon-fit.mjs";

const status = document.getElementById("status");
const container = document.getElementById("terminal");

const term = new Terminal({
  // Bubble Tea v2 moves to the next line with a bare "\n", expecting the
  // terminal to return the carriage as a tty does (ONLCR).
  convertEol: true,
  fontFamily: 'ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace',
  fontSize: 14,
  theme: { background: "#1a1b26" },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open(container);
fit.fit();

// ended is set once the program has said it exited; a program that
// stopped without saying so crashed.
let ended = false;

// host is globalThis.leasectl. The Go side adds input(data) and
// resize(cols, rows) when it starts and deletes them when it ends.
const host = {
  write(bytes) {
    term.write(bytes);
  },
  size() {
    return { cols: term.cols, rows: term.rows };
  },
  askToken(prompt) {
    return askToken(prompt);
  },
  exited(err) {
    ended = true;
    show(err ? `The console failed: ${err}` : "The console has ended.", true);
  },
};
globalThis.leasectl = host;

// The callbacks only hand over: the Go side queues and returns at once.
term.onData((data) => host.input?.(data));
term.onResize(({ cols, rows }) => host.resize?.(cols, rows));
term.onTitleChange((title) => {
  document.title = title;
});
new ResizeObserver(() => fit.fit()).observe(container);

// The browser tests and benchmarks (e2e/browser_test.go) read the screen,
// and only read it: leasectlScreen() returns the visible lines as text,
// and a function that one of them sets as globalThis.leasectlOnFrame is
// called each time written output has been parsed onto the screen. Nothing
// here can type, write to the program or reach the network.
globalThis.leasectlScreen = () => {
  const buffer = term.buffer.active;
  const lines = [];
  for (let y = 0; y < term.rows; y++) {
    lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "");
  }
  return lines;
};
term.onWriteParsed(() => globalThis.leasectlOnFrame?.());

function show(text, restart) {
  status.replaceChildren(text);
  if (restart) {
    const button = document.createElement("button");
    button.textContent = "Restart";
    button.addEventListener("click", () => location.reload());
    status.append(button);
  }
  status.hidden = false;
  fit.fit();
}

// askToken shows prompt and a password field in the status line, and
// resolves with what the operator enters (no form: nothing is submitted
// anywhere but to the program).
function askToken(prompt) {
  return new Promise((resolve) => {
    const label = document.createElement("label");
    label.textContent = prompt;
    const input = document.createElement("input");
    input.type = "password";
    input.id = "token";
    input.autocomplete = "off";
    input.spellcheck = false;
    label.htmlFor = input.id;
    const button = document.createElement("button");
    button.textContent = "Log in";
    const submit = () => {
      if (input.value.trim() === "") {
        input.focus();
        return;
      }
      status.hidden = true;
      fit.fit();
      term.focus();
      resolve(input.value);
    };
    button.addEventListener("click", submit);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") submit();
    });
    status.replaceChildren(label, input, button);
    status.hidden = false;
    fit.fit();
    input.focus();
  });
}

// instantiate loads leasectl.wasm, streaming when the server sends it as
// application/wasm.
async function instantiate(url, imports) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`${url}: ${response.status} ${response.statusText}`);
  }
  if (response.headers.get("Content-Type")?.startsWith("application/wasm")) {
    return WebAssembly.instantiateStreaming(response, imports);
  }
  return WebAssembly.instantiate(await response.arrayBuffer(), imports);
}

// newGo returns the Go runtime's glue, fixed not to throw once the program
// has ended: wasm_exec.js leaves the program's timers armed when it exits,
// and each then throws "Go program has already exited"
// (https://github.com/golang/go/issues/72797).
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

try {
  const go = newGo();
  const wasm = new URL("leasectl.wasm", import.meta.url);
  const { instance } = await instantiate(wasm, go.importObject);
  status.hidden = true;
  fit.fit();
  term.focus();
  await go.run(instance);
  if (!ended) {
    show("The console stopped unexpectedly: the browser's console has the details.", true);
  }
} catch (err) {
  console.error(err);
  show(`The console could not start: ${err.message ?? err}`, true);
}
