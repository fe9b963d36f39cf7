// Browser test: Swagger UI at /docs in headless Chromium (Debian's package,
// driven by playwright-core). Opens /byteorder, clicks "Try it out", enters
// 1234, executes, and expects 3523477504 in the rendered response.
//
// usage: node browser.mjs NETDIAG_BINARY DOCS_DIR SCREENSHOT_PATH
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [binary, docsDir, screenshotPath] = process.argv.slice(2);

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--listen', '127.0.0.1:0', '--echo-listen', 'off', '--docs-dir', docsDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`netdiag did not start: ${output}`)), 10000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/event=listening http=(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ child, address: match[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`netdiag exited with ${code}: ${output}`)));
  });
}

const server = await startServer();
const profile = mkdtempSync(join(tmpdir(), 'netdiag-chromium-'));
let browser;
let ok = false;
try {
  // A fresh profile directory each run.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(`http://${server.address}/docs`);
  const operation = page.locator('#operations-local-getByteorder');
  await operation.locator('.opblock-summary').click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  await operation.locator('input[placeholder="value"]').fill('1234');
  await operation.getByRole('button', { name: 'Execute' }).click();
  const body = operation.locator('.responses-wrapper .live-responses-table .response-col_description pre');
  await body.first().waitFor({ timeout: 15000 });
  const text = await body.first().innerText();
  await page.screenshot({ path: screenshotPath, fullPage: true });
  ok = text.includes('3523477504');
  if (!ok) console.log(`FAIL the rendered response does not show 3523477504:\n${text}`);
} catch (error) {
  console.log(`FAIL ${error}`);
} finally {
  if (browser) await browser.close();
  server.child.kill('SIGTERM');
  rmSync(profile, { recursive: true, force: true });
}
console.log(ok ? '1 passed, 0 failed' : '0 passed, 1 failed');
process.exit(ok ? 0 : 1);
