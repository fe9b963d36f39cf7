// Browser test: Swagger UI at /docs in Debian's headless Chromium, driven by
// playwright-core. Expands GET /byteorder, clicks "Try it out", types 1234
// into the value field, clicks Execute, and waits for the rendered response
// to show 3523477504 (ntohl(1234) on a little-endian host) with status 200.
// Saves a screenshot of the operation with its response.
//
// usage: node browser.mjs [--binary NETDIAG] [--docs-dir DIR] [--screenshot PNG]
//                         [--node-dir DIR] [--chromium PATH]
// Defaults come from NETDIAG_BINARY, NETDIAG_DOCS_DIR (swagger-ui-dist's
// files, given to netdiag as --docs-dir), NETDIAG_SCREENSHOT (else
// browser-byteorder.png beside the binary), NETDIAG_NODE_DIR (where npm
// installed playwright-core) and NETDIAG_CHROMIUM (else /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({
  options: {
    binary: { type: 'string', default: process.env.NETDIAG_BINARY },
    'docs-dir': { type: 'string', default: process.env.NETDIAG_DOCS_DIR },
    screenshot: { type: 'string', default: process.env.NETDIAG_SCREENSHOT },
    'node-dir': { type: 'string', default: process.env.NETDIAG_NODE_DIR },
    chromium: { type: 'string', default: process.env.NETDIAG_CHROMIUM ?? '/usr/bin/chromium' },
  },
});
if (!options.binary || !options['docs-dir']) {
  console.error('usage: node browser.mjs --binary NETDIAG --docs-dir DIR (or NETDIAG_BINARY, NETDIAG_DOCS_DIR)');
  process.exit(2);
}
const binary = resolve(options.binary);
const docsDir = resolve(options['docs-dir']);
const screenshotPath = resolve(options.screenshot ?? join(dirname(binary), 'browser-byteorder.png'));
const require = createRequire(options['node-dir'] ? join(resolve(options['node-dir']), 'package.json') : import.meta.url);
const { chromium } = require('playwright-core');

function startServer() {
  const args = ['--listen', '127.0.0.1:0', '--echo-listen', 'off', '--access-log', 'off', '--docs-dir', docsDir];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`netdiag did not start: ${output}`)), 10000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/event=listening http=(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, address: match[1] });
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`netdiag exited with ${code}: ${output}`));
    });
  });
}

let server;
let browser;
let ok = false;
const profile = mkdtempSync(join(tmpdir(), 'netdiag-chromium-'));
try {
  server = await startServer();
  // A fresh profile each run; nothing is fetched from outside this machine.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const outside = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === server.address || url.protocol === 'data:') return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  page.on('pageerror', (error) => console.log(`page error: ${error.message}`));

  await page.goto(`http://${server.address}/docs`);
  // Swagger UI names each operation block operations-<tag>-<operationId>.
  const operation = page.locator('#operations-local-getByteorder');
  await operation.waitFor({ timeout: 20000 });
  await operation.locator('.opblock-summary').first().click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  const value = operation.locator('tr[data-param-name="value"] input');
  await value.fill('');
  await value.pressSequentially('1234');
  await operation.getByRole('button', { name: 'Execute' }).click();

  const body = operation.locator('.live-responses-table .response-col_description pre', { hasText: '3523477504' });
  await body.first().waitFor({ timeout: 15000 });
  const status = (await operation.locator('.live-responses-table .response .response-col_status').first().innerText()).trim();
  const url = await operation.locator('.request-url pre').first().innerText();
  // The operation from its summary to the live response, parameters and all.
  await page.evaluate(() => window.scrollTo(0, 0));
  const block = await operation.boundingBox();
  const live = await operation.locator('.live-responses-table').first().boundingBox();
  await page.screenshot({
    path: screenshotPath,
    fullPage: true,
    clip: { x: block.x, y: block.y, width: block.width, height: live.y + live.height - block.y + 8 },
  });
  ok = status === '200' && url.includes('value=1234');
  console.log(`request: ${url.trim()}`);
  console.log(`response: ${status}, ${(await body.first().innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
  if (!ok) console.log(`FAIL expected status 200 for value=1234, got ${status} for ${url}`);
  if (outside.length) console.log(`note: blocked requests to outside this machine: ${outside.join(' ')}`);
  console.log(`screenshot: ${screenshotPath}`);
} catch (error) {
  console.log(`FAIL ${error.stack ?? error}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.child.kill('SIGTERM');
  rmSync(profile, { recursive: true, force: true });
}
console.log(ok ? '1 passed, 0 failed' : '0 passed, 1 failed');
process.exit(ok ? 0 : 1);
