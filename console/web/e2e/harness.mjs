// End-to-end harness: runs the real polaris-server binary on free loopback ports with its own
// data directory, seeds it through the OpenAPI, and drives Debian's Chromium with playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const ADMIN_TOKEN = 'nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=';
export const ARTIFACTS = process.env.ARTIFACTS ? join(process.env.ARTIFACTS, 'console') : new URL('../artifacts/console/', import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value or `ms` pass. */
export async function eventually(check, ms = 15_000, what = 'condition') {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** Starts the server; `consoleOpen: false` turns console auth off. */
export async function startServer({ consoleOpen = true } = {}) {
  const bin = process.env.POLARIS_BIN;
  if (!bin) throw new Error('POLARIS_BIN must name the polaris-server binary');
  const dir = mkdtempSync(join(tmpdir(), 'polaris-console-e2e-'));
  const http = await freePort();
  const console = await freePort();
  const config = [
    'apiservers:',
    `  - name: api-http`,
    `    option: { listenIP: "127.0.0.1", listenPort: ${http} }`,
    `  - name: console`,
    `    option: { listenIP: "127.0.0.1", listenPort: ${console} }`,
    'store:',
    '  name: embedded',
    `  option: { path: "${join(dir, 'data')}" }`,
    'auth:',
    '  strategy:',
    '    name: defaultStrategy',
    '    option:',
    `      consoleOpen: ${consoleOpen}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'polaris-server.yaml'), config);
  const child = spawn(bin, ['start', '-c', join(dir, 'polaris-server.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const base = `http://127.0.0.1:${console}`;
  await eventually(async () => (await fetch(`${base}/console/v1/session`)).ok, 20_000, `the server to start (${stderr})`);
  return {
    base,
    api: `http://127.0.0.1:${http}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An OpenAPI call with the admin's token, straight to port 8090's equivalent. */
export async function api(server, method, path, body) {
  const response = await fetch(`${server.api}${path}`, {
    method,
    headers: { 'X-Polaris-Token': ADMIN_TOKEN, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (json.code !== 200000) throw new Error(`${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A page that records every request leaving 127.0.0.1 and every console error or page
 * exception; `problems()` lists them.
 */
export async function openPage(browser, { locale = 'en-US' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale });
  const page = await context.newPage();
  const problems = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.hostname !== '127.0.0.1') problems.push(`request outside 127.0.0.1: ${request.url()}`);
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // A refused call (a failed login, a CSRF check) is logged by Chromium as a failed resource;
    // the tests that expect one check it themselves.
    if (/Failed to load resource: the server responded with a status of (401|403)/.test(message.text())) return;
    problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, problems: () => problems };
}

export async function shot(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

export async function login(page, base, name = 'polaris', password = 'polaris') {
  await page.goto(`${base}/`);
  await page.getByLabel('Username', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
}
