// The REST payload types of the client, generated from the gateway's OpenAPI document with
// openapi-typescript, so the server and the client cannot drift apart unnoticed.
//
//   node scripts/api-types.mjs          writes src/lib/api-types.ts   (npm run gen:api)
//   node scripts/api-types.mjs --check  fails when it is not what the document gives (npm run check:api)
//
// The document is ../build/openapi.json (`clubhub openapi --out build/openapi.json`, run by `make
// api-types` and `make lint`); OPENAPI_JSON names another file.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const input = resolve(web, process.env.OPENAPI_JSON ?? "../build/openapi.json");
const target = join(web, "src/lib/api-types.ts");
const check = process.argv.includes("--check");

if (!existsSync(input)) {
  console.error(
    `${relative(process.cwd(), input)} is missing: write it first with \`clubhub openapi --out build/openapi.json\` ` +
      "(from the repository root), or run `make api-types`.",
  );
  process.exit(2);
}

function generate(output) {
  const cli = join(web, "node_modules/openapi-typescript/bin/cli.js");
  const run = spawnSync(process.execPath, [cli, input, "--output", output, "--silent"], { stdio: ["ignore", "ignore", "inherit"] });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

if (!check) {
  generate(target);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "api-types-"));
try {
  const fresh = join(dir, "api-types.ts");
  generate(fresh);
  const current = existsSync(target) ? readFileSync(target, "utf8") : "";
  if (readFileSync(fresh, "utf8") !== current) {
    console.error(
      "src/lib/api-types.ts is not what the gateway's OpenAPI document gives: a REST schema changed. " +
        "Run `make api-types` (or `npm run gen:api` after `clubhub openapi --out build/openapi.json`), " +
        "adapt the client to the new types and commit the file.",
    );
    process.exit(1);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
