// Contract test: every operation of openapi/openapi.yaml against the real
// binary. For each operation, its example request and bad-input requests are
// sent; each answer's status must be declared and its content type and body
// must match the declared schema (ajv, JSON Schema 2020-12). Routes the server
// lists at GET / and paths the document has must be the same set.
//
// usage: node contract.mjs NETDIAG_BINARY FAKE_NTP_SERVER OPENAPI_YAML
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';

const [binary, fakeNtpServer, documentPath] = process.argv.slice(2);
const document = yaml.load(readFileSync(documentPath, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(document, 'openapi.json');

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL ${what}`);
  }
}

function pointer(parts) {
  return '#/' + parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
}

function resolveRef(object) {
  while (object && object.$ref) {
    const parts = object.$ref.replace(/^#\//, '').split('/');
    object = parts.reduce((node, part) => node[part.replaceAll('~1', '/').replaceAll('~0', '~')], document);
  }
  return object;
}

// Starts a process and resolves with the first stdout match of pattern.
function start(command, args, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${output}`)), 10000);
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
}

async function startFakeNtp() {
  const directory = mkdtempSync(join(tmpdir(), 'netdiag-contract-'));
  const portFile = join(directory, 'port');
  const child = spawn(fakeNtpServer, ['--port-file', portFile, '--mode', 'good', '--max-seconds', '300'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 500 && !existsSync(portFile); i++) await sleep(10);
  return { child, port: Number(readFileSync(portFile, 'utf8').trim()) };
}

function exampleQuery(operation, path, ntpPort) {
  const query = new URLSearchParams();
  let concretePath = path;
  for (const raw of operation.parameters ?? []) {
    const parameter = resolveRef(raw);
    let example = parameter.example;
    if (example === undefined) continue;
    if (parameter.in === 'path') {
      concretePath = concretePath.replace(`{${parameter.name}}`, encodeURIComponent(example));
      continue;
    }
    if (parameter.name === 'pretty') continue;
    // pool.ntp.org is out of reach here: a good local server stands in.
    if (path === '/time/sntp' && parameter.name === 'server') example = `127.0.0.1:${ntpPort}`;
    for (const value of Array.isArray(example) ? example : [example]) query.append(parameter.name, String(value));
  }
  return { path: concretePath, query };
}

// A value that breaks the first constrained query parameter.
function badQuery(operation, good) {
  for (const raw of operation.parameters ?? []) {
    const parameter = resolveRef(raw);
    if (parameter.in !== 'query' || parameter.name === 'pretty') continue;
    const schema = parameter.schema.type === 'array' ? parameter.schema.items : parameter.schema;
    if (!schema.enum && !schema.pattern && schema.maximum === undefined && schema.maxLength === undefined) continue;
    const query = new URLSearchParams(good);
    query.delete(parameter.name);
    query.append(parameter.name, schema.maximum !== undefined ? String(schema.maximum + 1) : 'x!y z..');
    return query;
  }
  return null;
}

async function exchange(base, path, query) {
  const url = `${base}${path}${query && [...query].length ? '?' + query : ''}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(30000) });
  const body = await response.text();
  return { url, status: response.status, type: (response.headers.get('content-type') ?? '').split(';')[0], body };
}

function validate(operationPointer, operation, answer, what) {
  const responses = operation.responses ?? {};
  const declared = responses[String(answer.status)];
  check(declared !== undefined, `${what}: status ${answer.status} is not declared (${answer.url}) ${answer.body.slice(0, 200)}`);
  if (!declared) return;
  let responsePointer = [...operationPointer, 'responses', String(answer.status)];
  let response = declared;
  if (response.$ref) {
    responsePointer = response.$ref.replace(/^#\//, '').split('/');
    response = resolveRef(response);
  }
  const content = response.content ?? {};
  check(answer.type in content, `${what}: content type ${answer.type} is not declared for ${answer.status}`);
  if (!(answer.type in content)) return;
  if (!answer.type.endsWith('json')) {
    check(typeof answer.body === 'string', `${what}: body`);
    return;
  }
  let body;
  try {
    body = JSON.parse(answer.body);
  } catch (error) {
    check(false, `${what}: body is not JSON: ${error}`);
    return;
  }
  const schemaPointer = pointer([...responsePointer, 'content', answer.type, 'schema']);
  const validator = ajv.getSchema(`openapi.json${schemaPointer}`) ?? ajv.compile({ $ref: `openapi.json${schemaPointer}` });
  const ok = validator(body);
  check(ok, `${what}: body does not match the schema: ${JSON.stringify(validator.errors)?.slice(0, 600)}`);
}

const ntp = await startFakeNtp();
const server = await start(binary, ['--listen', '127.0.0.1:0', '--echo-listen', 'off', '--access-log', 'off'], /event=listening http=(\S+)/);
const base = `http://${server.match[1]}`;
try {
  for (const [path, item] of Object.entries(document.paths)) {
    const operation = item.get;
    check(operation !== undefined, `${path}: no GET operation`);
    if (!operation) continue;
    const operationPointer = ['paths', path, 'get'];
    const example = exampleQuery(operation, path, ntp.port);
    const answer = await exchange(base, example.path, example.query);
    validate(operationPointer, operation, answer, `${path} example`);
    check(answer.status < 500 || path === '/docs' || path === '/resolve', `${path} example answered ${answer.status}: ${answer.body.slice(0, 200)}`);

    const unknown = new URLSearchParams(example.query);
    unknown.append('no_such_parameter', '1');
    const rejected = await exchange(base, example.path, unknown);
    check(rejected.status === 400, `${path} unknown parameter: status ${rejected.status}`);
    validate(operationPointer, operation, rejected, `${path} unknown parameter`);

    const bad = badQuery(operation, example.query);
    if (bad) {
      const answerBad = await exchange(base, example.path, bad);
      check(answerBad.status === 400, `${path} bad value (${bad}): status ${answerBad.status}`);
      validate(operationPointer, operation, answerBad, `${path} bad value`);
    }
  }

  // The route table and the document describe the same routes.
  const index = JSON.parse((await exchange(base, '/', null)).body);
  const served = new Set(index.endpoints.map((endpoint) => `${endpoint.method} ${endpoint.path}`));
  const documented = new Set(Object.keys(document.paths).map((path) => `GET ${path}`));
  for (const route of served) check(documented.has(route), `${route} is served but not in openapi.yaml`);
  for (const route of documented) check(served.has(route), `${route} is in openapi.yaml but not served`);
} finally {
  server.child.kill('SIGTERM');
  ntp.child.kill('SIGTERM');
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
