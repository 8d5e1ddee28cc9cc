// Pre-compress the build: next to every compressible file of dist/ (JS, CSS, HTML, SVG, JSON, maps, text)
// write <file>.br (brotli, quality 11) and <file>.gz (gzip, level 9), which the gateway serves to clients
// that accept them (gateway/http/webapp.py). Done once at build time, so no request pays for compression
// and the strongest settings cost nothing at run time. A compressed copy that is not smaller is not kept.
//
//   node scripts/compress.mjs [dist]        (npm run build runs it after vite build)
import { readdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const COMPRESSIBLE = /\.(?:js|mjs|css|html|svg|json|map|txt|xml|webmanifest|wasm)$/i;
// Below this a compressed answer saves less than its headers cost.
const MIN_BYTES = 256;

async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

async function writeIfSmaller(path, data, size) {
  if (data.length < size) {
    await writeFile(path, data);
    return data.length;
  }
  await unlink(path).catch(() => {}); // a stale copy from an earlier build must not be served
  return null;
}

export async function compressDir(dist) {
  const out = [];
  for await (const path of files(dist)) {
    if (!COMPRESSIBLE.test(path)) continue;
    const raw = await readFile(path);
    if (raw.length < MIN_BYTES) continue;
    const br = brotliCompressSync(raw, {
      params: {
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      },
    });
    const gz = gzipSync(raw, { level: 9 });
    out.push({
      file: relative(dist, path),
      raw: raw.length,
      br: await writeIfSmaller(`${path}.br`, br, raw.length),
      gz: await writeIfSmaller(`${path}.gz`, gz, raw.length),
    });
  }
  return out;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const dist = resolve(process.argv[2] ?? "dist");
  if (!(await stat(dist).catch(() => null))?.isDirectory()) {
    console.error(`compress: no build at ${dist}`);
    process.exit(1);
  }
  const done = await compressDir(dist);
  const kb = (n) => (n == null ? "–" : `${(n / 1024).toFixed(1)} kB`);
  for (const f of done.sort((a, b) => b.raw - a.raw)) {
    console.log(`compress: ${f.file.padEnd(40)} ${kb(f.raw).padStart(10)}  br ${kb(f.br).padStart(9)}  gz ${kb(f.gz).padStart(9)}`);
  }
}
