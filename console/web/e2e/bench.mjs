// Measures the console's first load on loopback: the time until the login form can be typed
// into and until the namespace list shows after login, and the bytes the browser downloads
// (compressed, as sent), with and without the on-demand editor. Run with POLARIS_BIN set:
//   POLARIS_BIN=target/release/polaris-server node console/web/e2e/bench.mjs [runs]
import { launch, startServer } from './harness.mjs';

const runs = Number(process.argv[2] ?? 10);
const server = await startServer();
const browser = await launch();

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1] };
}

/** A fresh context (empty cache) whose downloaded bytes are counted through CDP. */
async function fresh() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Performance.enable');
  const bytes = new Map();
  cdp.on('Network.loadingFinished', (e) => bytes.set(e.requestId, e.encodedDataLength));
  const total = () => [...bytes.values()].reduce((sum, n) => sum + n, 0);
  /** Main-thread busy seconds so far (tasks, of which script): CPU, not waiting for a core. */
  const busy = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const get = (name) => metrics.find((m) => m.name === name)?.value ?? 0;
    return { task: get('TaskDuration'), script: get('ScriptDuration') };
  };
  return { context, page, total, busy };
}

const loginMs = [];
const taskMs = [];
const scriptMs = [];
const listMs = [];
const initialBytes = [];
let editorBytes = 0;
for (let i = 0; i < runs; i++) {
  const { context, page, total, busy } = await fresh();
  const start = Date.now();
  await page.goto(`${server.base}/`);
  await page.getByLabel('Username', { exact: true }).waitFor();
  loginMs.push(Date.now() - start);
  const used = await busy();
  taskMs.push(Math.round(used.task * 1000));
  scriptMs.push(Math.round(used.script * 1000));
  await page.waitForLoadState('networkidle');
  initialBytes.push(total());
  await page.getByLabel('Username', { exact: true }).fill('polaris');
  await page.getByLabel('Password', { exact: true }).fill('polaris');
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
  const listStart = Date.now();
  await page.goto(`${server.base}/namespace`);
  await page.getByRole('cell', { name: 'default', exact: true }).waitFor();
  listMs.push(Date.now() - listStart);
  if (i === 0) {
    await page.waitForLoadState('networkidle');
    const before = total();
    await page.getByRole('link', { name: 'Rules', exact: true }).click();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('dialog').getByLabel('Rule (JSON)', { exact: true }).waitFor();
    await page.waitForLoadState('networkidle');
    editorBytes = total() - before;
  }
  await context.close();
}
await browser.close();
await server.stop();
const kb = (n) => Math.round(n / 102.4) / 10;
console.log(JSON.stringify({
  runs,
  loginFormInteractiveMs: stats(loginMs),
  loginMainThreadBusyMs: stats(taskMs),
  loginScriptMs: stats(scriptMs),
  namespaceListAfterLoginMs: stats(listMs),
  initialDownloadKB: kb(stats(initialBytes).median),
  rulesPageWithEditorKB: kb(editorBytes),
}, null, 2));
