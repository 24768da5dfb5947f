// The console end to end: the real binary, real Chromium, only accessible names to find things.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, eventually, launch, login, openPage, shot, startServer } from './harness.mjs';

let server;
let browser;
let session;

async function seed() {
  await api(server, 'POST', '/naming/v1/namespaces', [{ name: 'team-a', comment: 'Team A services' }]);
  await api(server, 'POST', '/naming/v1/services', [
    { name: 'echo', namespace: 'default', business: 'demo', metadata: { team: 'a', tier: 'web' } },
    { name: 'orders', namespace: 'default', metadata: { team: 'b' } },
    { name: 'billing', namespace: 'team-a' },
  ]);
  const beat = { enable_health_check: true, health_check: { type: 1, heartbeat: { ttl: 1 } } };
  await api(server, 'POST', '/naming/v1/instances', [
    { service: 'echo', namespace: 'default', host: '127.0.0.1', port: 9001, weight: 100, metadata: { zone: 'a', version: 'v1' }, ...beat },
    { service: 'echo', namespace: 'default', host: '127.0.0.1', port: 9002, weight: 50, metadata: { zone: 'b' }, ...beat },
    { service: 'echo', namespace: 'default', host: '127.0.0.1', port: 9003, weight: 100, isolate: true, healthy: true },
  ]);
  // One instance keeps beating (healthy); the other stops and turns unhealthy after 3 TTLs.
  const beatOnce = () =>
    fetch(`${server.api}/v1/Heartbeat`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ service: 'echo', namespace: 'default', host: '127.0.0.1', port: 9001 }),
    });
  await beatOnce();
  const beating = setInterval(() => void beatOnce(), 500);
  await eventually(async () => {
    const list = await api(server, 'GET', '/naming/v1/instances?service=echo&namespace=default');
    const byPort = Object.fromEntries(list.instances.map((i) => [i.port, i.healthy]));
    return byPort[9001] === true && byPort[9002] === false;
  }, 15_000, 'instance 9002 to turn unhealthy');
  return () => clearInterval(beating);
}

let stopBeating = () => {};

before(async () => {
  server = await startServer();
  stopBeating = await seed();
  browser = await launch();
  session = await openPage(browser);
});

after(async () => {
  stopBeating();
  await browser?.close();
  await server?.stop();
});

describe('console', { concurrency: false }, () => {
  test('a failed login shows an alert and no session', async () => {
    const { page } = session;
    await page.goto(`${server.base}/`);
    await page.getByLabel('Username', { exact: true }).waitFor();
    await shot(page, '01-login');
    await page.getByLabel('Username', { exact: true }).fill('polaris');
    await page.getByLabel('Password', { exact: true }).fill('wrong-password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /wrong username or password/i);
    await shot(page, '02-login-error');
    const cookies = await session.context.cookies();
    assert.equal(cookies.find((c) => c.name === 'polaris_session'), undefined);
  });

  test('logging in sets an HttpOnly SameSite=Strict cookie and stores no token in the page', async () => {
    const { page, context } = session;
    await login(page, server.base);
    const cookie = (await context.cookies()).find((c) => c.name === 'polaris_session');
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!storage.includes(cookie.value), 'the session id is not readable by scripts');
    assert.ok(!/token/i.test(storage), `no token in web storage: ${storage}`);
    for (const name of ['Namespaces', 'Services', 'Configuration', 'Rules', 'Users']) {
      await page.getByRole('link', { name, exact: true }).waitFor();
    }
  });

  test('a write without the CSRF header is refused', async () => {
    const { page } = session;
    const status = await page.evaluate(async () => {
      const response = await fetch('/naming/v1/namespaces', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify([{ name: 'csrf-probe' }]),
      });
      return response.status;
    });
    assert.equal(status, 403);
    const list = await api(server, 'GET', '/naming/v1/namespaces?name=csrf-probe');
    assert.equal(list.namespaces.length, 0);
  });

  test('a namespace is created, listed and deleted', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Namespaces', exact: true }).click();
    await page.getByRole('cell', { name: 'team-a', exact: true }).waitFor();
    await shot(page, '03-namespaces');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('e2e-ns');
    await dialog.getByLabel('Description', { exact: true }).fill('made by the browser test');
    await shot(page, '04-namespace-create');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    const row = page.getByRole('row').filter({ hasText: 'e2e-ns' });
    await row.waitFor();
    await api(server, 'GET', '/naming/v1/namespaces?name=e2e-ns').then((r) => assert.equal(r.namespaces.length, 1));
    await row.getByRole('button', { name: 'Delete', exact: true }).click();
    const confirm = page.getByRole('dialog');
    await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
    await row.waitFor({ state: 'detached' });
    await api(server, 'GET', '/naming/v1/namespaces?name=e2e-ns').then((r) => assert.equal(r.namespaces.length, 0));
  });

  test('a service is created and deleted; the seeded ones show healthy/total', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Services', exact: true }).click();
    const echo = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'echo', exact: true }) });
    await echo.waitFor();
    // 9001 beats, 9002 stopped beating, 9003 has no health check (healthy, but isolated).
    assert.match(await echo.innerText(), /2 \/ 3/);
    await shot(page, '05-services');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('e2e-svc');
    await dialog.getByLabel('Namespace', { exact: true }).fill('team-a');
    await dialog.getByLabel('Metadata', { exact: true }).fill('owner=e2e');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: 'e2e-svc' });
    await row.waitFor();
    const made = await api(server, 'GET', '/naming/v1/services?name=e2e-svc&namespace=team-a');
    assert.deepEqual(made.services[0].metadata, { owner: 'e2e' });
    await row.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
    await row.waitFor({ state: 'detached' });
    // The metadata filter is applied by the server.
    await page.getByLabel('Filter by metadata').fill('team=b');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: 'orders', exact: true }).waitFor();
    await page.getByRole('link', { name: 'echo', exact: true }).waitFor({ state: 'detached' });
  });

  test('instances show healthy, unhealthy and isolated; one is isolated from the console', async () => {
    const { page } = session;
    await page.goto(`${server.base}/service-detail?namespace=default&name=echo`);
    const row = (port) => page.getByRole('row').filter({ hasText: `127.0.0.1:${port}` });
    await row(9001).waitFor();
    assert.match(await row(9001).innerText(), /Healthy/);
    assert.match(await row(9001).innerText(), /Not isolated/);
    assert.match(await row(9002).innerText(), /Unhealthy/);
    assert.match(await row(9003).innerText(), /Isolated/);
    await eventually(async () => /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(await row(9001).innerText()), 10_000, 'a last heartbeat time');
    await shot(page, '06-service-instances');
    await row(9002).getByRole('button', { name: 'Isolate', exact: true }).click();
    await row(9002).getByRole('button', { name: 'Unisolate', exact: true }).waitFor();
    const list = await api(server, 'GET', '/naming/v1/instances?service=echo&namespace=default&port=9002');
    assert.equal(list.instances.find((i) => i.port === 9002).isolate, true);
    await row(9001).getByRole('button', { name: 'Edit', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Weight', { exact: true }).fill('80');
    await shot(page, '07-instance-edit');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => {
      const one = await api(server, 'GET', '/naming/v1/instances?service=echo&namespace=default');
      return one.instances.find((i) => i.port === 9001).weight === 80;
    }, 5_000, 'the new weight');
  });

  test('a deep link survives a reload', async () => {
    const { page } = session;
    await page.reload();
    await page.getByRole('row').filter({ hasText: '127.0.0.1:9001' }).waitFor();
    await shot(page, '19-deeplink-refresh');
  });

  test('a config file is created, edited, published and rolled back', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Configuration', exact: true }).click();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    let dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('shop');
    await dialog.getByLabel('Namespace', { exact: true }).fill('default');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('link', { name: 'shop', exact: true }).waitFor();
    await shot(page, '08-config-groups');
    await page.getByRole('link', { name: 'shop', exact: true }).click();
    await page.getByText('No file yet: create one.', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('application.yaml');
    await dialog.getByLabel('Content', { exact: true }).fill('server:\n  port: 8080\n');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const editor = page.getByLabel('Content', { exact: true });
    await editor.waitFor();
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByText('Published.', { exact: true }).waitFor();
    const first = await api(server, 'GET', '/config/v1/configfiles/releases?namespace=default&group=shop&file_name=application.yaml');
    assert.equal(first.configFileReleases.length, 1);
    const firstName = first.configFileReleases[0].name;
    // Edit and publish a second version (Publish saves the edit first).
    await editor.fill('server:\n  port: 9090\nlogging: debug\n');
    await page.getByText('Unsaved changes', { exact: true }).waitFor();
    await shot(page, '09-config-editor-yaml');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await eventually(async () => {
      const all = await api(server, 'GET', '/config/v1/configfiles/releases?namespace=default&group=shop&file_name=application.yaml');
      return all.configFileReleases.length === 2;
    }, 10_000, 'a second release');
    const read = async () => {
      const response = await fetch(`${server.api}/v1/GetConfigFile?namespace=default&group=shop&fileName=application.yaml`);
      return (await response.json()).configFile?.content;
    };
    await eventually(async () => /9090/.test(await read()), 10_000, 'clients to read the second release');
    await page.getByRole('tab', { name: 'Versions', exact: true }).click();
    const oldRow = page.getByRole('row').filter({ hasText: firstName });
    await oldRow.getByRole('button', { name: 'Compare', exact: true }).click();
    await page.getByRole('dialog').waitFor();
    await page.getByRole('dialog').getByText('8080').first().waitFor();
    await shot(page, '10-config-versions-diff');
    await page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();
    await oldRow.getByRole('button', { name: 'Roll back', exact: true }).click();
    await eventually(async () => /8080/.test(await read()), 10_000, 'clients to read the rolled-back content');
    await page.getByRole('tab', { name: 'Release history', exact: true }).click();
    await page.getByRole('cell', { name: 'rollback', exact: true }).waitFor();
    await shot(page, '11-release-history');
  });

  test('a rate-limit rule is created and disabled; rule pages list', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Rules', exact: true }).click();
    await shot(page, '12-routing-rules');
    await page.getByRole('tab', { name: 'Rate limit', exact: true }).click();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('echo-limit');
    await dialog.getByLabel('Rule (JSON)', { exact: true }).waitFor();
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: 'echo-limit' });
    await row.getByText('Enabled', { exact: true }).waitFor();
    await shot(page, '13-ratelimits');
    await row.getByRole('button', { name: 'Disable', exact: true }).click();
    await row.getByText('Disabled', { exact: true }).waitFor();
    const rules = await api(server, 'GET', '/naming/v1/ratelimits?name=echo-limit');
    assert.equal(rules.rateLimits[0].disable, true);
    // A rule that is not JSON is refused before it is sent.
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const bad = page.getByRole('dialog');
    await bad.getByLabel('Name', { exact: true }).fill('broken');
    await bad.getByLabel('Rule (JSON)', { exact: true }).fill('{ "service": ');
    await bad.getByRole('button', { name: 'Save', exact: true }).click();
    await bad.getByText(/Invalid JSON/).first().waitFor();
    await bad.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('tab', { name: 'Circuit breaker', exact: true }).click();
    await page.getByRole('columnheader', { name: 'Target service', exact: true }).waitFor();
    await shot(page, '14-circuitbreakers');
  });

  test('a user is created; groups and strategies list', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('alice');
    await dialog.getByLabel('Password', { exact: true }).fill('alice-secret-1');
    await dialog.getByRole('button', { name: 'Save', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('cell', { name: 'alice', exact: true }).waitFor();
    await shot(page, '15-users');
    const users = await api(server, 'GET', '/core/v1/users?name=alice');
    assert.equal(users.users.length, 1);
    await page.getByRole('tab', { name: 'Strategies', exact: true }).click();
    await page.getByRole('columnheader', { name: 'Access', exact: true }).waitFor();
    await shot(page, '16-policies');
  });

  test('the cluster page shows this node', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Cluster', exact: true }).click();
    await page.getByRole('cell', { name: 'Serving', exact: true }).waitFor();
    await shot(page, '17-cluster-status');
  });

  test('the Chinese translation switches the visible texts', async () => {
    const { page } = session;
    await page.getByRole('button', { name: '中文', exact: true }).click();
    await page.getByRole('link', { name: '命名空间', exact: true }).waitFor();
    await page.getByRole('link', { name: '命名空间', exact: true }).click();
    await shot(page, '20-namespaces-zh');
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await page.getByRole('link', { name: 'Namespaces', exact: true }).waitFor();
  });

  test('logging out ends the session on the server', async () => {
    const { page, context } = session;
    const before = (await context.cookies()).find((c) => c.name === 'polaris_session');
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByLabel('Username', { exact: true }).waitFor();
    const response = await fetch(`${server.base}/naming/v1/namespaces`, { headers: { Cookie: `polaris_session=${before.value}` } });
    assert.equal(response.status, 401, 'the old cookie no longer authenticates');
    assert.equal((await context.cookies()).find((c) => c.name === 'polaris_session'), undefined);
  });

  test('no request left 127.0.0.1 and no console error was logged', () => {
    assert.deepEqual(session.problems(), []);
  });
});

describe('console with console auth off', { concurrency: false }, () => {
  test('shows a banner and needs no login', async () => {
    const open = await startServer({ consoleOpen: false });
    try {
      const { page, problems, context } = await openPage(browser);
      await page.goto(`${open.base}/namespace`);
      await page.getByText('Console authentication is off').waitFor();
      await page.getByRole('cell', { name: 'default', exact: true }).waitFor();
      await shot(page, '18-auth-off-banner');
      assert.deepEqual(problems(), []);
      await context.close();
    } finally {
      await open.stop();
    }
  });
});
