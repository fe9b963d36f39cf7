// Browser test: Swagger UI at /docs in Debian's headless Chromium, driven by
// playwright-core. Expands GET /byteorder, clicks "Try it out", types 1234
// into the value field, clicks Execute, and waits for the rendered response
// to show 3523477504 (ntohl(1234) on a little-endian host) with status 200.
// Saves a screenshot of the operation with its response.
//
// Then the fleet page: three netdiag pods on 127.0.0.31 to 127.0.0.33 with
// --peers-dns, found through a real dnsmasq (fleet.mjs). /fleet.html, served
// by one of them, must draw the matrix: a header row naming each pod's node,
// a row per pod, every cell of the healthy class; screenshot. One pod is
// then killed, and on its next refresh the page must show that pod's row
// unreachable and its column's cells unhealthy; screenshot again.
//
// usage: node browser.mjs [--binary NETDIAG] [--docs-dir DIR] [--screenshot PNG]
//                         [--fleet-screenshot PNG] [--node-dir DIR] [--chromium PATH]
// Defaults come from NETDIAG_BINARY, NETDIAG_DOCS_DIR (swagger-ui-dist's
// files, given to netdiag as --docs-dir), NETDIAG_SCREENSHOT (else
// browser-byteorder.png beside the binary), NETDIAG_FLEET_SCREENSHOT (else
// browser-fleet.png beside the first screenshot; the killed pod's is
// browser-fleet-killed.png there), NETDIAG_NODE_DIR (where npm installed
// playwright-core) and NETDIAG_CHROMIUM (else /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { allHealthy, startFleet, waitForMatrix } from './fleet.mjs';

const { values: options } = parseArgs({
  options: {
    binary: { type: 'string', default: process.env.NETDIAG_BINARY },
    'docs-dir': { type: 'string', default: process.env.NETDIAG_DOCS_DIR },
    screenshot: { type: 'string', default: process.env.NETDIAG_SCREENSHOT },
    'fleet-screenshot': { type: 'string', default: process.env.NETDIAG_FLEET_SCREENSHOT },
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
const fleetScreenshotPath = resolve(options['fleet-screenshot'] ?? join(dirname(screenshotPath), 'browser-fleet.png'));
const fleetKilledScreenshotPath = fleetScreenshotPath.replace(/(\.png)?$/, '-killed.png');
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

// A page of the browser whose requests may go to host alone: the others are
// refused and listed in outside; the page's script errors go to errors.
async function confinedPage(browser, host) {
  const page = await browser.newPage();
  const outside = [];
  const errors = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === host || url.protocol === 'data:') return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  page.on('pageerror', (error) => {
    errors.push(error.message);
    console.log(`page error: ${error.message}`);
  });
  return { page, outside, errors };
}

// Swagger UI: GET /byteorder tried out, its live response checked.
async function checkSwagger(browser, server) {
  const { page, outside } = await confinedPage(browser, server.address);
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
  const ok = status === '200' && url.includes('value=1234');
  console.log(`request: ${url.trim()}`);
  console.log(`response: ${status}, ${(await body.first().innerText()).replace(/\s+/g, ' ').slice(0, 200)}`);
  if (!ok) console.log(`FAIL expected status 200 for value=1234, got ${status} for ${url}`);
  if (outside.length) console.log(`note: blocked requests to outside this machine: ${outside.join(' ')}`);
  console.log(`screenshot: ${screenshotPath}`);
  await page.close();
  return ok;
}

// The grid as the page drew it: per row of #matrix, its cells' tag, text, class and title.
function readGrid(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('#matrix tr')].map((row) =>
      [...row.children].map((cell) => ({ tag: cell.tagName, text: cell.textContent, className: cell.className, title: cell.title, colSpan: cell.colSpan })),
    ),
  );
}

// The page from its title down to the grid's bottom.
async function screenshotGrid(page, path) {
  const bottom = await page.evaluate(() => document.getElementById('matrix').getBoundingClientRect().bottom);
  await page.screenshot({ path, clip: { x: 0, y: 0, width: page.viewportSize().width, height: Math.ceil(bottom) + 24 } });
  console.log(`screenshot: ${path}`);
}

// What a person reads in the grid (texts and hover titles) never says null or undefined.
function unsaid(grid) {
  return grid.flat().filter((cell) => /\b(null|undefined|NaN)\b/.test(`${cell.text} ${cell.title}`));
}

// /fleet.html served by a pod of a fleet: the grid, all healthy, then with a pod killed.
const fleetAddresses = ['127.0.0.31', '127.0.0.32', '127.0.0.33'];
async function checkFleetPage(browser, fleet) {
  const failures = [];
  const expect = (condition, what, detail = '') => {
    if (!condition) failures.push(`${what}${detail ? `: ${detail}` : ''}`);
  };
  const n = fleet.pods.length;
  const settled = await waitForMatrix(fleet.pods[0].base, (matrix) => allHealthy(matrix, n));
  if (!settled.ok) throw new Error(`the fleet did not settle: ${settled.text.slice(0, 400)}`);

  const { page, outside, errors } = await confinedPage(browser, new URL(fleet.pods[0].base).host);
  await page.goto(`${fleet.pods[0].base}/fleet.html`);
  await page.waitForFunction((count) => document.querySelectorAll('#matrix td.cell.healthy').length === count, n * n, { timeout: 15000 });
  const grid = await readGrid(page);
  const header = grid[0] ?? [];
  expect(header.length === n + 1 && header.every((cell) => cell.tag === 'TH'), 'a header row, a column per pod', JSON.stringify(header));
  expect(JSON.stringify(header.slice(1).map((cell) => cell.text)) === JSON.stringify(fleet.pods.map((pod) => pod.node)), 'the header names each pod\'s node', JSON.stringify(header.map((cell) => cell.text)));
  const rows = grid.slice(1);
  expect(rows.length === n, 'a row per pod', `${rows.length} rows`);
  rows.forEach((row, i) => {
    const pod = fleet.pods[i];
    expect(row[0]?.tag === 'TH' && row[0].text === `${pod.node} (${pod.address})`, `row ${i + 1} is ${pod.node}'s`, row[0]?.text);
    const cells = row.slice(1);
    expect(cells.length === n && cells.every((cell) => cell.className === 'cell healthy' && cell.text === '\u2713'), `row ${i + 1}: every cell healthy`, JSON.stringify(cells.map((cell) => cell.className)));
    expect(cells.every((cell, j) => cell.title.startsWith(`${pod.node} (${pod.address}) \u2192 ${fleet.pods[j].node} (${fleet.pods[j].address}): healthy`) && /connect [0-9.]+ ms, HTTP 200/.test(cell.title)), `row ${i + 1}: each cell's title says who probed whom and how`, cells[0]?.title);
  });
  expect(unsaid(grid).length === 0, 'no cell says null or undefined', JSON.stringify(unsaid(grid)));
  const status = await page.locator('#status').innerText();
  expect(status.startsWith(`${n} pods, 0 unreachable from here; cells: ${n * n} healthy, 0 unhealthy, 0 unknown. Peers from ${fleet.name}`), 'the status line sums the matrix up', status);
  expect((await page.locator('#problem').innerText()) === '', 'no problem shown');
  await screenshotGrid(page, fleetScreenshotPath);
  console.log(`fleet page: ${n}x${n}, ${status}`);

  // A pod killed: on a later refresh its row is unreachable and its column unhealthy.
  const victim = fleet.pods.at(-1);
  victim.child.kill('SIGKILL');
  await page.waitForFunction(
    (count) =>
      document.querySelectorAll('#matrix td.unreachable').length === 1 &&
      document.querySelectorAll('#matrix td.cell.unhealthy').length === count - 1 &&
      document.querySelectorAll('#matrix td.cell.healthy').length === (count - 1) * (count - 1),
    n,
    { timeout: 20000 },
  );
  const broken = await readGrid(page);
  const lastRow = broken.at(-1);
  expect(lastRow?.length === 2 && lastRow[0].text === `${victim.node} (${victim.address})` && lastRow[1].className === 'unreachable' && lastRow[1].colSpan === n && /^unreachable: refused \(ECONNREFUSED\)$/.test(lastRow[1].text), `${victim.node} killed: its row unreachable, across the grid`, JSON.stringify(lastRow));
  const refusedCell = broken[1]?.at(-1);
  expect(refusedCell?.className === 'cell unhealthy' && /: unhealthy\nresult: refused/.test(refusedCell.title), `${victim.node} killed: its column unhealthy, refused`, JSON.stringify(refusedCell));
  expect(unsaid(broken).length === 0, `${victim.node} killed: no cell says null or undefined`, JSON.stringify(unsaid(broken)));
  await screenshotGrid(page, fleetKilledScreenshotPath);

  expect(errors.length === 0, 'no script errors', errors.join('; '));
  expect(outside.length === 0, 'no request leaves the page\'s server', outside.join(' '));
  for (const failure of failures) console.log(`FAIL fleet page: ${failure}`);
  await page.close();
  return failures.length === 0;
}

let server;
let browser;
let fleet;
const fleetChildren = [];
const results = { swagger: false, fleet: false };
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
  try {
    results.swagger = await checkSwagger(browser, server);
  } catch (error) {
    console.log(`FAIL Swagger UI: ${error.stack ?? error}`);
  }
  try {
    fleet = await startFleet({ binary, addresses: fleetAddresses, track: (child) => fleetChildren.push(child) });
    results.fleet = await checkFleetPage(browser, fleet);
  } catch (error) {
    console.log(`FAIL fleet page: ${error.stack ?? error}`);
  }
} catch (error) {
  console.log(`FAIL ${error.stack ?? error}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.child.kill('SIGTERM');
  for (const child of fleetChildren) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fleet?.stop();
  rmSync(profile, { recursive: true, force: true });
}
const passed = Object.values(results).filter(Boolean).length;
const failed = Object.keys(results).length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
