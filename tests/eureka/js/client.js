// eureka-js-client against polaris-rs: `node client.js <eureka base url> <app name>`.
// Registers, waits for a heartbeat and a registry fetch that lists itself, re-fetches with the
// delta after another registration, checks a 404 renew makes it register again, then stops.
'use strict';
const assert = require('assert');
const http = require('http');
const { Eureka } = require('eureka-js-client');

const [base, app] = process.argv.slice(2);
const url = new URL(base);
const deadline = Date.now() + 60000;

function instance(name, id, port) {
  return {
    app: name.toUpperCase(), instanceId: id, hostName: 'localhost', ipAddr: '127.0.0.1',
    port: { $: port, '@enabled': true }, vipAddress: name.toLowerCase(), status: 'UP',
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
    metadata: { lang: 'js' },
  };
}

function request(method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: url.pathname + path },
      (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end();
  });
}

async function until(what, predicate) {
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function client(inst, useDelta) {
  return new Eureka({
    instance: inst,
    eureka: {
      host: url.hostname, port: Number(url.port), servicePath: `${url.pathname}/apps/`,
      heartbeatInterval: 500, registryFetchInterval: 500, maxRetries: 0, shouldUseDelta: useDelta,
    },
    logger: { debug() {}, info() {}, warn() {}, error: console.error },
  });
}

(async () => {
  const main = client(instance(app, `${app}-1`, 9300), true);
  let heartbeats = 0;
  let registrations = 0;
  main.on('heartbeat', () => { heartbeats += 1; });
  main.on('registered', () => { registrations += 1; });
  await new Promise((resolve, reject) => main.start((err) => (err ? reject(err) : resolve())));
  await until('a heartbeat', () => heartbeats > 0);
  await until('itself in the registry', () => main.getInstancesByAppId(app.toUpperCase()).length === 1);
  const self = main.getInstancesByAppId(app.toUpperCase())[0];
  assert.strictEqual(self.port.$, 9300);
  assert.strictEqual(self.metadata.lang, 'js');
  assert.strictEqual(main.getInstancesByVipAddress(app.toLowerCase()).length, 1);

  // Another registration reaches this client through the delta.
  const other = client(instance(`${app}-other`, `${app}-2`, 9301), false);
  other.config.eureka.fetchRegistry = false;
  await new Promise((resolve, reject) => other.start((err) => (err ? reject(err) : resolve())));
  await until('the other app via the delta',
    () => main.getInstancesByAppId(`${app}-other`.toUpperCase()).length === 1);
  await new Promise((resolve) => other.stop(resolve));
  await until('the other app removed via the delta',
    () => main.getInstancesByAppId(`${app}-other`.toUpperCase()).length === 0);

  // An instance the server no longer knows gets 404 on renew, and the client registers again.
  assert.strictEqual(await request('DELETE', `/apps/${app.toUpperCase()}/${app}-1`), 200);
  const before = registrations;
  await until('a re-registration after a 404 renew', () => registrations > before);
  await until('itself back in the registry', () => main.getInstancesByAppId(app.toUpperCase()).length === 1);

  await new Promise((resolve) => main.stop(resolve));
  assert.strictEqual(await request('PUT', `/apps/${app.toUpperCase()}/${app}-1`), 404);
  console.log('js client: ok');
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
