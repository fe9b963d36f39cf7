// Contract test: openapi/openapi.yaml against the real binary.
//
// For every operation of the document it sends the example request (the
// query built from the parameters' examples), HEAD, OPTIONS, a POST, a GET
// with a body, no parameters, an unknown parameter, and for each constrained
// parameter a value that breaks its schema (and a repeat of a parameter that
// may be given once, more values than maxItems, and the absence of a required
// one). Every answer's status must be declared, and its content type, required
// headers and body must match the declaration (ajv, JSON Schema 2020-12). More
// servers, started with other flags, produce the remaining declared answers:
// 401 (--auth-token-file), 403 (--sntp-allow), 503 busy (--slow-max-waiting),
// 503 readiness (draining), 503 docs (no Swagger UI), 502 and 504 (fake NTP
// servers that misbehave or stay silent).
//
// The fleet view (/fleet): off on the main server (404), and on in a fleet
// simulated on the loopback (fleet.mjs: dnsmasq answering a name with
// 127.0.0.21 to 127.0.0.23, a netdiag on each with --peers-dns), where every
// /fleet check of the document runs, both scopes' answers are checked
// against their schemas and against what the fleet is (every pod probed and
// named, the matrix healthy), then one pod is killed and its row must turn
// unreachable and its column refused. A server whose peers' name does not
// resolve gives the DNS failure, and with --slow-max-waiting 1 the 503.
//
// The route table and the document must describe the same routes (GET /
// lists every route) and the same query parameters per route (the server's
// unknown_parameter problem lists the ones it accepts); /openapi.json must be
// the YAML document as parsed, /openapi.yaml the file itself.
//
// usage: node contract.mjs [--binary NETDIAG] [--tools-dir DIR] [--openapi FILE]
//                          [--docs-dir DIR] [--node-dir DIR] [--verbose]
// Defaults come from NETDIAG_BINARY, NETDIAG_TOOLS_DIR (which holds
// fake_ntp_server and fake_dns_server), NETDIAG_OPENAPI (else openapi/openapi.yaml of this
// checkout), NETDIAG_DOCS_DIR and NETDIAG_NODE_DIR (where npm installed ajv,
// ajv-formats and js-yaml; else the usual module resolution).
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { allHealthy, startFleet, waitForMatrix } from './fleet.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: options } = parseArgs({
  options: {
    binary: { type: 'string', default: process.env.NETDIAG_BINARY },
    'tools-dir': { type: 'string', default: process.env.NETDIAG_TOOLS_DIR },
    openapi: { type: 'string', default: process.env.NETDIAG_OPENAPI ?? join(here, '../../openapi/openapi.yaml') },
    'docs-dir': { type: 'string', default: process.env.NETDIAG_DOCS_DIR },
    'node-dir': { type: 'string', default: process.env.NETDIAG_NODE_DIR },
    verbose: { type: 'boolean', default: false },
  },
});
if (!options.binary || !options['tools-dir']) {
  console.error('usage: node contract.mjs --binary NETDIAG --tools-dir DIR (or NETDIAG_BINARY, NETDIAG_TOOLS_DIR)');
  process.exit(2);
}
const binary = resolve(options.binary);
const fakeNtpServer = join(resolve(options['tools-dir']), 'fake_ntp_server');
const fakeDnsServer = join(resolve(options['tools-dir']), 'fake_dns_server');

// npm installs the tools outside the repository (BUILD/node); load them from there.
const require = createRequire(options['node-dir'] ? join(resolve(options['node-dir']), 'package.json') : import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default ?? require('ajv-formats');
const yaml = require('js-yaml');

const documentText = readFileSync(options.openapi, 'utf8');
const document = yaml.load(documentText);
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(document, 'openapi.json');

// --- Results -------------------------------------------------------------

let passed = 0;
let failed = 0;
function check(ok, what, detail = '') {
  if (ok) {
    passed++;
    if (options.verbose) console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}${detail ? `: ${String(detail).replace(/\s+/g, ' ')}` : ''}`);
  }
  return ok;
}

// Which declared statuses some request produced, per operation.
const exercised = new Map();

// --- The document --------------------------------------------------------

function pointerOf(parts) {
  return '#/' + parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
}

function deref(object) {
  let pointer = null;
  while (object && object.$ref) {
    pointer = object.$ref;
    const parts = object.$ref.replace(/^#\//, '').split('/');
    object = parts.reduce((node, part) => node[part.replaceAll('~1', '/').replaceAll('~0', '~')], document);
  }
  return { object, pointer };
}

function validatorFor(pointer) {
  const id = `openapi.json${pointer}`;
  return ajv.getSchema(id) ?? ajv.compile({ $ref: id });
}

const operations = [];
for (const [path, item] of Object.entries(document.paths)) {
  for (const [method, operation] of Object.entries(item)) {
    if (['parameters', 'summary', 'description', 'servers', '$ref'].includes(method)) continue;
    const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((raw) => deref(raw).object);
    operations.push({ path, method: method.toUpperCase(), operation, parameters, pointer: ['paths', path, method] });
  }
}
const byPath = new Map(operations.filter((o) => o.method === 'GET').map((o) => [o.path, o]));

// --- Processes -----------------------------------------------------------

const children = [];
const scratch = mkdtempSync(join(tmpdir(), 'netdiag-contract-'));
let fleet = null;

function startNetdiag(extra = [], program = binary) {
  const args = ['--listen', '127.0.0.1:0', '--echo-listen', 'off', '--access-log', 'off', ...extra];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    const timer = setTimeout(() => reject(new Error(`netdiag ${args.join(' ')} did not start: ${output}`)), 10000);
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(/event=listening http=(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, base: `http://${match[1]}` });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`netdiag ${args.join(' ')} exited with ${code}: ${output}`));
    });
  });
}

async function startFakeNtp(mode) {
  const portFile = join(scratch, `ntp-${mode}.port`);
  const child = spawn(fakeNtpServer, ['--port-file', portFile, '--mode', mode, '--max-seconds', '600'], {
    stdio: 'ignore',
  });
  children.push(child);
  for (let i = 0; i < 500 && !existsSync(portFile); i++) await sleep(10);
  if (!existsSync(portFile)) throw new Error(`${fakeNtpServer} --mode ${mode} wrote no port file`);
  return Number(readFileSync(portFile, 'utf8').trim());
}

async function startFakeDns(mode) {
  const portFile = join(scratch, `dns-${mode}.port`);
  const child = spawn(fakeDnsServer, ['--port-file', portFile, '--mode', mode, '--max-seconds', '600'], { stdio: 'ignore' });
  children.push(child);
  for (let i = 0; i < 500 && !existsSync(portFile); i++) await sleep(10);
  if (!existsSync(portFile)) throw new Error(`${fakeDnsServer} --mode ${mode} wrote no port file`);
  return Number(readFileSync(portFile, 'utf8').trim());
}

// A port free for UDP and TCP (a DNS server binds both), below the kernel's
// ephemeral range, where no client connection can take the TCP side.
async function freeDnsPort() {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const udp = dgram.createSocket('udp4');
    const udpFree = await new Promise((ok) => {
      udp.once('error', () => ok(false));
      udp.bind(port, '127.0.0.1', () => ok(true));
    });
    const tcp = net.createServer();
    const tcpFree = udpFree && (await new Promise((ok) => {
      tcp.once('error', () => ok(false));
      tcp.listen(port, '127.0.0.1', () => ok(true));
    }));
    if (udpFree) udp.close();
    if (tcpFree) await new Promise((ok) => tcp.close(ok));
    if (tcpFree) return port;
  }
  throw new Error('no port free for UDP and TCP');
}

// A real DNS server for /dns: unbound on a loopback port, serving the test
// zone (tests/dns/prepare.sh writes its configuration and signs the zone).
async function startUnbound() {
  const port = await freeDnsPort();
  const directory = join(scratch, 'unbound');
  mkdirSync(directory);
  const prepared = spawnSync('bash', [join(here, '../dns/prepare.sh'), directory, String(port)], { encoding: 'utf8' });
  if (prepared.status !== 0) throw new Error(`tests/dns/prepare.sh failed: ${prepared.stderr}`);
  const child = spawn('unbound', ['-d', '-c', join(directory, 'unbound.conf')], { stdio: 'ignore' });
  children.push(child);
  return port;
}

function stopAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fleet?.stop();
  rmSync(scratch, { recursive: true, force: true });
}

// --- HTTP ----------------------------------------------------------------

function buildTarget(path, query) {
  const text = query ? query.toString() : '';
  return text ? `${path}?${text}` : path;
}

function exchange(base, { method = 'GET', path, query = null, headers = {}, body = null }) {
  const target = buildTarget(path, query);
  return new Promise((resolvePromise, reject) => {
    const request = http.request(
      `${base}${target}`,
      { method, headers: { ...headers, ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}) }, agent: false },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const bodyText = Buffer.concat(chunks).toString('utf8');
          resolvePromise({
            method,
            url: target,
            status: response.statusCode,
            headers: response.headers,
            type: (response.headers['content-type'] ?? '').split(';')[0].trim(),
            body: bodyText,
          });
        });
      },
    );
    request.setTimeout(30000, () => request.destroy(new Error(`${method} ${target}: no answer in 30 s`)));
    request.on('error', reject);
    if (body) request.write(body);
    request.end();
  });
}

// --- Validation ----------------------------------------------------------

function mediaTypeFor(content, type) {
  if (type in content) return type;
  const [major] = type.split('/');
  if (`${major}/*` in content) return `${major}/*`;
  if ('*/*' in content) return '*/*';
  return null;
}

function headerValue(schema, text) {
  return schema && (schema.type === 'integer' || schema.type === 'number') && /^-?[0-9.]+$/.test(text)
    ? Number(text)
    : text;
}

// Checks an answer against what op declares; returns the parsed body (or null).
function validate(op, answer, what) {
  const shown = `${answer.method} ${answer.url} -> ${answer.status}`;
  const declared = op.operation.responses?.[String(answer.status)] ?? op.operation.responses?.default;
  if (!check(declared !== undefined, `${what}: status ${answer.status} declared`, `${shown} ${answer.body.slice(0, 300)}`))
    return null;
  if (!exercised.has(op)) exercised.set(op, new Set());
  exercised.get(op).add(String(answer.status));

  const { object: response, pointer } = deref(declared);
  const responsePointer = pointer ?? pointerOf([...op.pointer, 'responses', String(answer.status)]);

  for (const [name, rawHeader] of Object.entries(response.headers ?? {})) {
    const { object: header } = deref(rawHeader);
    const value = answer.headers[name.toLowerCase()];
    if (value === undefined) {
      check(!header.required, `${what}: header ${name} present`, shown);
      continue;
    }
    if (header.schema) {
      const { object: schema } = deref(header.schema);
      const validator = ajv.compile({ ...schema, $id: undefined });
      check(validator(headerValue(schema, value)), `${what}: header ${name} matches its schema`, `${name}: ${value}`);
    }
  }

  const content = response.content;
  if (!content) {
    check(answer.body === '', `${what}: no body declared, none sent`, shown);
    return null;
  }
  if (answer.method === 'HEAD') return null;
  const mediaType = mediaTypeFor(content, answer.type);
  if (!check(mediaType !== null, `${what}: content type ${answer.type} declared`, `${shown}; declared: ${Object.keys(content)}`))
    return null;
  if (!content[mediaType].schema) return null;
  let body = answer.body;
  if (/[/+]json$/.test(mediaType)) {
    try {
      body = JSON.parse(answer.body);
    } catch (error) {
      check(false, `${what}: body is JSON`, `${shown}: ${error}`);
      return null;
    }
  }
  const schemaPointer = `${responsePointer}/content/${mediaType.replaceAll('~', '~0').replaceAll('/', '~1')}/schema`;
  const validator = validatorFor(schemaPointer);
  const ok = validator(body);
  check(ok, `${what}: body matches ${schemaPointer}`, `${shown}: ${JSON.stringify(validator.errors)?.slice(0, 800)} body: ${answer.body.slice(0, 400)}`);
  return body;
}

// Sends a request for op and validates the answer; expect may be a status or
// a list of statuses, and problem checks the problem's code and param.
async function probe(base, op, request, what, { expect, problem } = {}) {
  let answer;
  try {
    answer = await exchange(base, { path: op.path, ...request });
  } catch (error) {
    check(false, what, String(error));
    return null;
  }
  if (expect !== undefined) {
    const wanted = [expect].flat();
    check(wanted.includes(answer.status), `${what}: status ${wanted.join(' or ')}`, `${answer.method} ${answer.url} -> ${answer.status} ${answer.body.slice(0, 300)}`);
  }
  const body = validate(op, answer, what);
  if (problem && body && answer.status >= 400) {
    for (const [key, value] of Object.entries(problem))
      check(body[key] === value, `${what}: problem ${key} is ${value}`, `got ${JSON.stringify(body[key])}`);
  }
  return { answer, body };
}

// --- Requests built from the document --------------------------------------

const isConstrained = (schema) =>
  schema &&
  ['enum', 'const', 'pattern', 'maximum', 'minimum', 'maxLength', 'minLength', 'oneOf', 'anyOf'].some((k) => k in schema);

// The example request: every parameter's example; overrides replace values.
function exampleRequest(op, overrides = {}) {
  let path = op.path;
  const query = new URLSearchParams();
  for (const parameter of op.parameters) {
    const example = parameter.name in overrides ? overrides[parameter.name] : parameter.example;
    if (example === undefined || example === null) continue;
    if (parameter.in === 'path') {
      path = path.replace(`{${parameter.name}}`, encodeURIComponent(example));
      continue;
    }
    if (parameter.in !== 'query' || parameter.name === 'pretty') continue;
    for (const value of [example].flat()) query.append(parameter.name, String(value));
  }
  return { path, query };
}

// The tests send traffic to this machine only: the examples' pool.ntp.org
// becomes a fake NTP server on the loopback, www.python.org localhost (no
// query leaves for a DNS server), /connect's destination the loopback, /dns's
// server the test's unbound.
let dnsPort = 0;
function localOverrides(op, ntpPort) {
  if (op.path === '/time/sntp') return { server: `127.0.0.1:${ntpPort}` };
  if (op.path === '/dns') return { server: `127.0.0.1:${dnsPort}` };
  if (op.path === '/resolve') return { host: ['localhost'] };
  // Port 1 on the loopback refuses at once; send, send_hex and http_path
  // exclude each other, so the example sends one of them; the example is
  // proto=tcp, which takes no count or interval_ms (checkScenarios asks
  // for proto=udp); sni, alpn and insecure go with tls=1, which the example
  // leaves off.
  if (op.path === '/connect')
    return {
      host: '127.0.0.1', port: 1, send_hex: null, http_path: null, count: null, interval_ms: null,
      sni: null, alpn: null,
    };
  return {};
}

// A value the parameter's schema refuses (for an array, one bad item).
function badValue(parameter) {
  const schema = deref(parameter.schema).object;
  const itemSchema = schema.type === 'array' ? deref(schema.items).object : schema;
  let validator;
  try {
    validator = ajv.compile(itemSchema);
  } catch {
    return undefined;
  }
  const candidates = [];
  const collect = (s) => {
    s = deref(s).object;
    if (typeof s.maximum === 'number') candidates.push(s.maximum + 1);
    if (typeof s.minimum === 'number' && s.minimum > 0) candidates.push(s.minimum - 1);
    if (s.enum || s.const !== undefined) candidates.push('bogus');
    if (s.pattern) candidates.push('x!y z..', '-', '');
    if (typeof s.maxLength === 'number') candidates.push('a'.repeat(s.maxLength + 1));
    for (const branch of [...(s.oneOf ?? []), ...(s.anyOf ?? [])]) collect(branch);
  };
  collect(itemSchema);
  return candidates.find((value) => !validator(value) && !validator(String(value)));
}

// --- The checks -----------------------------------------------------------

async function checkOperation(base, op, { ntpPort }) {
  const name = `${op.method} ${op.path}`;
  const { operation } = op;
  check(
    Boolean(operation.operationId && operation.summary && operation.description && operation.tags?.length),
    `${name}: operationId, summary, description and tags`,
  );
  for (const parameter of op.parameters)
    check(parameter.example !== undefined, `${name}: parameter ${parameter.name} has an example`);

  const local = localOverrides(op, ntpPort);
  const example = exampleRequest(op, local);

  // Without Swagger UI's files /docs is a 503 and /docs/{file} a 404;
  // everything else answers its example with a 2xx.
  const first = await probe(base, op, example, `${name} example`);
  const docsMissing = (await exchange(base, { path: '/docs' })).status === 503;
  if (first && !(docsMissing && op.path.startsWith('/docs')))
    check(first.answer.status < 300, `${name} example answers 2xx`, `${first.answer.status} ${first.answer.body.slice(0, 300)}`);

  await probe(base, op, { ...example, query: new URLSearchParams([...example.query, ['pretty', '1']]) }, `${name} example, pretty=1`);

  const head = await exchange(base, { method: 'HEAD', ...example });
  if (first)
    check(
      head.status === first.answer.status && head.type === first.answer.type && head.body === '',
      `${name} HEAD: the GET's status and type, no body`,
      `${head.status} ${head.type}`,
    );
  const options_ = await exchange(base, { method: 'OPTIONS', ...example });
  check(
    options_.status === 204 && /\bGET\b/.test(options_.headers.allow ?? '') && /\bHEAD\b/.test(options_.headers.allow ?? ''),
    `${name} OPTIONS: 204 with Allow: GET, HEAD, OPTIONS`,
    `${options_.status} Allow: ${options_.headers.allow}`,
  );

  await probe(base, op, { ...example, method: 'POST' }, `${name} POST`, {
    expect: 405,
    problem: { code: 'method_not_allowed' },
  });
  await probe(base, op, { ...example, body: 'a body' }, `${name} GET with a body`, {
    expect: 413,
    problem: { code: 'body_not_allowed' },
  });

  const none = await probe(base, op, { path: example.path }, `${name} without parameters`);
  const required = op.parameters.filter((p) => p.required && p.in === 'query');
  if (none && required.length)
    check(none.answer.status === 400 && none.body?.code === 'missing_parameter', `${name} without ${required[0].name}: 400 missing_parameter`, `${none.answer.status} ${none.answer.body.slice(0, 200)}`);

  const unknown = new URLSearchParams(example.query);
  unknown.append('no_such_parameter', '1');
  const rejected = await probe(base, op, { path: example.path, query: unknown }, `${name} unknown parameter`, {
    expect: 400,
    problem: { code: 'unknown_parameter', param: 'no_such_parameter' },
  });
  // The server lists the parameters it accepts: the document must have the same.
  const accepted = rejected?.body?.detail?.match(/\(accepted: ([^)]*)\)/)?.[1];
  if (check(accepted !== undefined, `${name}: the server lists the parameters it accepts`, rejected?.body?.detail)) {
    const served = new Set(accepted.split(', '));
    const documented = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name));
    for (const parameter of served) check(documented.has(parameter), `${name}: parameter ${parameter} accepted by the server is documented`);
    for (const parameter of documented) check(served.has(parameter), `${name}: documented parameter ${parameter} is accepted by the server`);
  }

  await probe(base, op, { ...example, query: new URLSearchParams([...example.query, ['pretty', 'maybe']]) }, `${name} pretty=maybe`, {
    expect: 400,
    problem: { param: 'pretty' },
  });

  for (const parameter of op.parameters) {
    if (parameter.name === 'pretty') continue;
    const schema = deref(parameter.schema).object;
    const isArray = schema.type === 'array';
    const itemSchema = isArray ? deref(schema.items).object : schema;
    if (isConstrained(itemSchema)) {
      const bad = badValue(parameter);
      if (check(bad !== undefined, `${name}: a value that breaks ${parameter.name}'s schema`)) {
        const request = exampleRequest(op, { ...local, [parameter.name]: String(bad) });
        if (parameter.in === 'path')
          await probe(base, op, request, `${name} bad ${parameter.name}=${bad}`, { expect: 404 });
        else
          await probe(base, op, request, `${name} bad ${parameter.name}=${String(bad).slice(0, 20)}`, {
            expect: 400,
            problem: { param: parameter.name },
          });
      }
    }
    if (parameter.in !== 'query') continue;
    const value = [parameter.name in local ? local[parameter.name] : parameter.example].flat()[0];
    if (!isArray) {
      await probe(base, op, exampleRequest(op, { ...local, [parameter.name]: [value, value] }), `${name} ${parameter.name} twice`, {
        expect: 400,
        problem: { code: 'duplicate_parameter', param: parameter.name },
      });
    } else if (typeof schema.maxItems === 'number') {
      // maxItems values of this parameter alone are accepted, one more is not.
      const only = (count) => ({
        path: example.path,
        query: new URLSearchParams(Array(count).fill([parameter.name, String(value)])),
      });
      const most = await probe(base, op, only(schema.maxItems), `${name} ${schema.maxItems} ${parameter.name} values`);
      if (most) check(most.answer.status < 400, `${name} ${schema.maxItems} ${parameter.name} values: accepted`, `${most.answer.status} ${most.answer.body.slice(0, 200)}`);
      await probe(base, op, only(schema.maxItems + 1), `${name} ${schema.maxItems + 1} ${parameter.name} values`, {
        expect: 400,
        problem: { code: 'too_many_values', param: parameter.name },
      });
    }
  }
}

// Particular requests that exercise the rest of what the document declares.
async function checkScenarios(base, { ntpPort, silentPort, kissPort, dnsSilentPort, dnsTextPort }) {
  const op = (path) => byPath.get(path);

  await probe(base, op('/resolve'), { query: new URLSearchParams('host=localhost&addr=127.0.0.1') }, 'GET /resolve localhost', { expect: 200 });
  await probe(base, op('/resolve'), { query: new URLSearchParams('host=localhost&family=ipv4&timeout_ms=2000') }, 'GET /resolve localhost ipv4', { expect: 200 });
  await probe(base, op('/resolve'), { query: new URLSearchParams('host=a..b') }, 'GET /resolve host=a..b', { expect: 400, problem: { param: 'host' } });
  await probe(base, op('/convert'), { query: new URLSearchParams('ip=010.0.0.1') }, 'GET /convert ip=010.0.0.1 (inet_aton differs)', { expect: 400, problem: { param: 'ip' } });
  await probe(base, op('/convert'), { query: new URLSearchParams('ip=::1&ip=2001:db8::1&hex=20010db8000000000000000000000001&int=42540766411282592856903984951653826561') }, 'GET /convert IPv6', { expect: 200 });
  await probe(base, op('/convert'), { query: new URLSearchParams('int=4294967296&family=ipv4') }, 'GET /convert int past IPv4', { expect: 400, problem: { code: 'out_of_range', param: 'int' } });
  await probe(base, op('/service'), { query: new URLSearchParams('name=no-such-service') }, 'GET /service nothing found', { expect: 404, problem: { param: 'name' } });
  await probe(base, op('/service'), { query: new URLSearchParams('port=80&name=no-such-service') }, 'GET /service partly found', { expect: 200 });
  await probe(base, op('/service'), { query: new URLSearchParams('port=65536') }, 'GET /service port=65536', { expect: 400, problem: { code: 'out_of_range', param: 'port' } });
  await probe(base, op('/byteorder'), { query: new URLSearchParams('value=0x10000&width=16') }, 'GET /byteorder 0x10000 width=16', { expect: 400, problem: { param: 'value' } });
  await probe(base, op('/byteorder'), { query: new URLSearchParams('value=4294967296') }, 'GET /byteorder 2^32', { expect: 400, problem: { code: 'out_of_range', param: 'value' } });
  await probe(base, op('/byteorder'), { query: new URLSearchParams('value=65535') }, 'GET /byteorder 65535', { expect: 200 });

  // /connect?proto=udp: an NTP request to the fake time server (answered),
  // port 1 (ICMP port unreachable) and the silent server (no reply).
  const connect = op('/connect');
  const ntpRequest = `23${'00'.repeat(47)}`;
  const replied = await probe(base, connect, { query: new URLSearchParams(`proto=udp&host=127.0.0.1&port=${ntpPort}&send_hex=${ntpRequest}&count=2&interval_ms=10`) }, 'GET /connect proto=udp, a time server', { expect: 200 });
  if (replied?.body) check(replied.body.ok === true && replied.body.phases.at(-1).answered === 2 && replied.body.reply?.bytes === 48, 'GET /connect proto=udp: both datagrams answered, 48 bytes', JSON.stringify(replied.body).slice(0, 300));
  const refused = await probe(base, connect, { query: new URLSearchParams('proto=udp&host=127.0.0.1&port=1&send=x') }, 'GET /connect proto=udp, port 1', { expect: 200 });
  if (refused?.body) check(refused.body.result === 'refused' && refused.body.error?.code === 'ECONNREFUSED', 'GET /connect proto=udp port 1: refused', JSON.stringify(refused.body).slice(0, 300));
  const silent = await probe(base, connect, { query: new URLSearchParams(`proto=udp&host=127.0.0.1&port=${silentPort}&send=x&timeout_ms=200`) }, 'GET /connect proto=udp, a silent port', { expect: 200 });
  if (silent?.body) check(silent.body.result === 'no_reply' && typeof silent.body.note === 'string', 'GET /connect proto=udp silent: no_reply, with a note', JSON.stringify(silent.body).slice(0, 300));
  await probe(base, connect, { query: new URLSearchParams('proto=udp&host=127.0.0.1&port=1') }, 'GET /connect proto=udp without send', { expect: 400, problem: { code: 'missing_parameter', param: 'send' } });
  await probe(base, connect, { query: new URLSearchParams('proto=udp&host=127.0.0.1&port=1&send=x&count=10&interval_ms=1000') }, 'GET /connect proto=udp, more than timeout_ms', { expect: 400, problem: { param: 'interval_ms' } });

  const sockopts = op('/sockopts');
  await probe(base, sockopts, { query: new URLSearchParams('type=udp&nodelay=1') }, 'GET /sockopts udp nodelay=1', { expect: 400, problem: { param: 'nodelay' } });
  await probe(base, sockopts, { query: new URLSearchParams('timeout=1.1234567') }, 'GET /sockopts timeout with 7 decimals', { expect: 400, problem: { param: 'timeout' } });
  const udp = await probe(base, sockopts, { query: new URLSearchParams('type=udp&sndbuf=0&rcvbuf=67108864&timeout=0.5&reuseaddr=0&blocking=1') }, 'GET /sockopts udp', { expect: 200 });
  if (udp?.body) check(!('nodelay' in udp.body.options) && !('bind' in udp.body), 'GET /sockopts udp: no nodelay, no bind');
  const none = await probe(base, sockopts, { query: new URLSearchParams('timeout=none&bind=0') }, 'GET /sockopts timeout=none', { expect: 200 });
  if (none?.body) check(none.body.options.timeout.requested === null && none.body.options.timeout.after === null, 'GET /sockopts timeout=none: requested and after are null');
  const zero = await probe(base, sockopts, { query: new URLSearchParams('timeout=0') }, 'GET /sockopts timeout=0', { expect: 200 });
  if (zero?.body) check(zero.body.options.timeout.after === 0 && zero.body.options.blocking.after === 0, 'GET /sockopts timeout=0: non-blocking, as Python\'s settimeout(0)');
  const bound = await probe(base, sockopts, { query: new URLSearchParams('bind=1&type=udp') }, 'GET /sockopts bind=1 udp', { expect: 200 });
  if (bound?.body) check(bound.body.bind?.address === '127.0.0.1' && bound.body.bind.port > 0, 'GET /sockopts bind=1: bound to the loopback');
  // A host without IPv6 answers 400 unsupported_family; both are declared.
  await probe(base, sockopts, { query: new URLSearchParams('family=ipv6&bind=1') }, 'GET /sockopts ipv6', { expect: [200, 400] });

  const sntp = op('/time/sntp');
  await probe(base, sntp, { query: new URLSearchParams(`server=127.0.0.1:${ntpPort}&version=3`) }, 'GET /time/sntp version=3', { expect: 200 });
  await probe(base, sntp, { query: new URLSearchParams(`server=[::1]:0`) }, 'GET /time/sntp [::1] port 0', { expect: 400, problem: { param: 'server' } });
  await probe(base, sntp, { query: new URLSearchParams(`server=127.0.0.1:${silentPort}&timeout_ms=200`) }, 'GET /time/sntp silent server', { expect: 504, problem: { code: 'timeout' } });
  await probe(base, sntp, { query: new URLSearchParams(`server=127.0.0.1:${kissPort}`) }, "GET /time/sntp kiss-o'-death", { expect: 502, problem: { code: 'bad_upstream_reply' } });

  const dns = op('/dns');
  const dnsCases = [
    [`name=nope.netdiag.test&server=127.0.0.1:${dnsPort}`, 'NXDOMAIN', { expect: 200 }],
    [`name=example.com&server=127.0.0.1:${dnsPort}`, 'SERVFAIL (no upstream)', { expect: 200 }],
    [`name=x.refused.test&server=127.0.0.1:${dnsPort}`, 'REFUSED', { expect: 200 }],
    [`name=big.netdiag.test&type=TXT&server=127.0.0.1:${dnsPort}`, 'truncated, then TCP', { expect: 200 }],
    [`name=192.0.2.10&type=PTR&dnssec=1&rd=0&tcp=1&server=127.0.0.1:${dnsPort}`, 'PTR over TCP with DO', { expect: 200 }],
    ['name=www.netdiag.test&server=all', 'server=all', { expect: 200 }],
    ['name=www.netdiag.test', 'the default server', { expect: 200 }],
    ['name=example.com&type=ANY', 'type=ANY', { expect: 400, problem: { code: 'invalid_argument', param: 'type' } }],
    ['type=MX', 'without name', { expect: 400, problem: { code: 'missing_parameter', param: 'name' } }],
    ['name=www.netdiag.test&server=10.96.0.10', 'outside --dns-allow', { expect: 403, problem: { code: 'forbidden', param: 'server' } }],
    [`name=www.netdiag.test&server=127.0.0.1:${dnsSilentPort}&timeout_ms=300`, 'silent server', { expect: 504, problem: { code: 'timeout' } }],
    [`name=www.netdiag.test&server=127.0.0.1:${dnsTextPort}`, 'a reply that is not DNS', { expect: 502, problem: { code: 'bad_upstream_reply' } }],
  ];
  for (const [query, what, expectation] of dnsCases)
    await probe(base, dns, { query: new URLSearchParams(query) }, `GET /dns ${what}`, expectation);

  const notFound = await exchange(base, { path: '/no/such/route' });
  check(notFound.status === 404 && notFound.type === 'application/problem+json', 'GET /no/such/route: 404 problem', `${notFound.status} ${notFound.type}`);
  if (notFound.status === 404) {
    const validator = validatorFor('#/components/schemas/NotFoundProblem');
    check(validator(JSON.parse(notFound.body)), 'GET /no/such/route: body is a NotFoundProblem', JSON.stringify(validator.errors));
  }

  // The document served is the document tested.
  const json = await exchange(base, { path: '/openapi.json' });
  check(isDeepStrictEqual(JSON.parse(json.body), document), '/openapi.json is openapi.yaml as parsed');
  const text = await exchange(base, { path: '/openapi.yaml' });
  check(text.body === documentText, '/openapi.yaml is the file itself');

  // The route table and the document describe the same routes.
  const index = JSON.parse((await exchange(base, { path: '/' })).body);
  const served = new Set(index.endpoints.map((endpoint) => `${endpoint.method} ${endpoint.path}`));
  const documented = new Set(operations.map((o) => `${o.method} ${o.path}`));
  for (const route of served) check(documented.has(route), `${route} is served and documented`);
  for (const route of documented) check(served.has(route), `${route} is documented and served`);
  for (const endpoint of index.endpoints) {
    const documentedOp = byPath.get(endpoint.path);
    if (documentedOp) check(documentedOp.operation.summary.length > 0, `${endpoint.path}: has a summary`);
  }
}

// The simulated fleet's pods: loopback addresses of their own, so that no
// other test's listeners on 127.0.0.1 are in the way.
const fleetAddresses = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];

// /fleet off (main) and on (the fleet), /healthz naming the node, then a pod killed.
async function checkFleet(mainBase, fleet) {
  const op = byPath.get('/fleet');
  // Off: a 404 problem that says how to turn it on; the parameters are checked first.
  for (const query of ['', 'scope=self', 'scope=all', 'scope=all&timeout_ms=500'])
    await probe(mainBase, op, { query: new URLSearchParams(query) }, `GET /fleet?${query} with the fleet off`, { expect: 404, problem: { code: 'not_found' } });
  await probe(mainBase, op, { query: new URLSearchParams('scope=bogus') }, 'GET /fleet?scope=bogus with the fleet off', { expect: 400, problem: { param: 'scope' } });
  await probe(mainBase, op, { query: new URLSearchParams('timeout_ms=500') }, 'GET /fleet?timeout_ms=500 with the fleet off', { expect: 400, problem: { param: 'timeout_ms' } });

  const pods = fleet.pods;
  const addresses = pods.map((pod) => pod.address);
  const nodeOf = (address) => pods.find((pod) => pod.address === address)?.node;
  for (const [query, problem] of [
    ['scope=bogus', { code: 'invalid_argument', param: 'scope' }],
    ['scope=', { param: 'scope' }],
    ['timeout_ms=500', { code: 'invalid_argument', param: 'timeout_ms' }],
    ['scope=self&timeout_ms=500', { code: 'invalid_argument', param: 'timeout_ms' }],
    ['scope=all&timeout_ms=99', { code: 'out_of_range', param: 'timeout_ms' }],
    ['scope=all&timeout_ms=10001', { code: 'out_of_range', param: 'timeout_ms' }],
    ['scope=all&timeout_ms=1e3', { code: 'invalid_argument', param: 'timeout_ms' }],
    ['scope=all&timeout_ms=-1', { param: 'timeout_ms' }],
  ])
    await probe(pods[0].base, op, { query: new URLSearchParams(query) }, `GET /fleet?${query}`, { expect: 400, problem });

  // /healthz names the node in its body and in a header, the probes' source of node names.
  const health = byPath.get('/healthz');
  for (const pod of pods) {
    const named = await probe(pod.base, health, {}, `GET /healthz on ${pod.node}`, { expect: 200 });
    if (named)
      check(named.body?.node === pod.node && named.answer.headers['netdiag-node'] === pod.node, `GET /healthz on ${pod.node}: node and Netdiag-Node name it`, `${named.answer.body} Netdiag-Node: ${named.answer.headers['netdiag-node']}`);
  }
  const unnamed = await probe(mainBase, health, {}, 'GET /healthz without --node-name', { expect: 200 });
  if (unnamed?.body) check(!('node' in unnamed.body) && !('netdiag-node' in unnamed.answer.headers), 'GET /healthz without --node-name: no node, no Netdiag-Node');

  // Each pod's own view: every address found, probed over TCP, HTTP and UDP, named and healthy.
  for (const pod of pods) {
    const view = (await probe(pod.base, op, { query: new URLSearchParams('scope=self') }, `GET /fleet on ${pod.node}`, { expect: 200 }))?.body;
    if (!view) continue;
    const what = `GET /fleet on ${pod.node}`;
    check(view.scope === 'self' && view.self.address === pod.address && view.self.node === pod.node, `${what}: scope self, knows itself`, JSON.stringify(view.self));
    check(view.peers_dns.name === fleet.name && view.peers_dns.ok === true && view.peers_dns.rcode === 'NOERROR' && view.peers_dns.addresses === addresses.length && view.peers_dns.error === null, `${what}: the peers' name answered`, JSON.stringify(view.peers_dns));
    check(isDeepStrictEqual(view.peers.map((peer) => peer.address), addresses), `${what}: a row per address, sorted`, JSON.stringify(view.peers.map((peer) => peer.address)));
    check(view.peers.filter((peer) => peer.self).map((peer) => peer.address).join() === pod.address, `${what}: itself among its peers, once`);
    check(view.peers.every((peer) => peer.node === nodeOf(peer.address)), `${what}: every peer named by its Netdiag-Node`, JSON.stringify(view.peers.map((peer) => peer.node)));
    check(
      view.peers.every((peer) => peer.state === 'healthy' && peer.result === 'ok' && peer.tcp?.ok && peer.tcp.http_status === 200 && peer.tcp.connect_ms > 0 && peer.udp?.ok && peer.udp.answered > 0 && peer.rounds > 0),
      `${what}: every peer healthy over TCP, HTTP and UDP`,
      JSON.stringify(view.peers).slice(0, 600),
    );
    check(isDeepStrictEqual(view.summary, { peers: addresses.length, healthy: addresses.length, unhealthy: 0, unknown: 0 }), `${what}: summary`, JSON.stringify(view.summary));
  }

  // The matrix, asked of a pod in the middle: rows in the columns' order, its own row (not fetched) among them.
  const asker = pods[1];
  const columnsOf = (matrix) => matrix.columns.map((column) => `${column.address} ${column.node}`);
  const expectedColumns = pods.map((pod) => `${pod.address} ${pod.node}`);
  for (const query of ['scope=all', 'scope=all&timeout_ms=5000']) {
    const matrix = (await probe(asker.base, op, { query: new URLSearchParams(query) }, `GET /fleet?${query} on ${asker.node}`, { expect: 200 }))?.body;
    if (!matrix) continue;
    const what = `GET /fleet?${query} on ${asker.node}`;
    check(matrix.scope === 'all' && matrix.timeout_ms === Number(new URLSearchParams(query).get('timeout_ms') ?? 3000), `${what}: scope all, its timeout_ms`, `${matrix.scope} ${matrix.timeout_ms}`);
    check(isDeepStrictEqual(columnsOf(matrix), expectedColumns), `${what}: a column per pod, named`, JSON.stringify(matrix.columns));
    check(isDeepStrictEqual(matrix.rows.map((row) => `${row.from.address} ${row.from.node}`), expectedColumns), `${what}: a row per pod, in the columns' order`, JSON.stringify(matrix.rows.map((row) => row.from)));
    check(matrix.rows.every((row, i) => row.reachable && row.error === null && row.dns_ok === true && (i === 1 ? row.fetch_ms === 0 : row.fetch_ms > 0)), `${what}: every row reachable, its own not fetched`, JSON.stringify(matrix.rows.map((row) => [row.reachable, row.fetch_ms])));
    check(matrix.rows.every((row) => row.cells.length === addresses.length && row.cells.every((cell, i) => cell?.address === addresses[i] && cell.state === 'healthy')), `${what}: every cell healthy, in the columns' order`, JSON.stringify(matrix.rows.map((row) => row.cells?.map((cell) => cell?.state))));
    const n = addresses.length;
    check(isDeepStrictEqual(matrix.summary, { nodes: n, rows_reachable: n, rows_unreachable: 0, cells_healthy: n * n, cells_unhealthy: 0, cells_unknown: 0 }), `${what}: summary`, JSON.stringify(matrix.summary));
  }

  // A pod killed: within a few intervals its row is unreachable (refused) and
  // its column refused in every other row; the rest stays healthy.
  const victim = pods.at(-1);
  const k = pods.length - 1;
  victim.child.kill('SIGKILL');
  const broken = await waitForMatrix(
    asker.base,
    (matrix) =>
      matrix.rows.length === pods.length &&
      !matrix.rows[k].reachable &&
      matrix.rows.slice(0, k).every((row) => row.reachable && row.cells[k]?.result === 'refused' && row.cells.slice(0, k).every((cell) => cell?.state === 'healthy')),
    { seconds: 10 },
  );
  check(broken.ok, `${victim.node} killed: its row unreachable, its column refused, the rest healthy`, broken.text.slice(0, 800));
  const after = (await probe(asker.base, op, { query: new URLSearchParams('scope=all') }, `GET /fleet?scope=all with ${victim.node} killed`, { expect: 200 }))?.body;
  if (after) {
    const row = after.rows[k];
    check(row?.reachable === false && row.cells === null && row.age_s === null && row.error?.result === 'refused' && row.error.code === 'ECONNREFUSED', `GET /fleet?scope=all with ${victim.node} killed: its row unreachable (refused), unknown rather than empty`, JSON.stringify(row));
    const cell = after.rows[0].cells[k];
    check(cell?.state === 'unhealthy' && cell.tcp?.ok === false && cell.tcp.result === 'refused' && cell.last_error !== null, `GET /fleet?scope=all with ${victim.node} killed: its cell says refused`, JSON.stringify(cell));
    check(after.summary.rows_unreachable === 1 && after.summary.rows_reachable === k, `GET /fleet?scope=all with ${victim.node} killed: summary`, JSON.stringify(after.summary));
  }
}

// Servers started with other flags, for the answers the defaults never give.
async function checkOtherServers({ ntpPort, silentPort }) {
  // --auth-token-file: 401 where the document says a token is needed, none where it is not.
  const tokenFile = join(scratch, 'token');
  const token = 'contract-test-token-0123456789';
  writeFileSync(tokenFile, `${token}\n`);
  const secured = await startNetdiag(['--auth-token-file', tokenFile, '--sntp-server', `127.0.0.1:${ntpPort}`]);
  for (const op of operations) {
    const open = Array.isArray(op.operation.security) && op.operation.security.length === 0;
    const request = exampleRequest(op, localOverrides(op, ntpPort));
    await probe(secured.base, op, request, `${op.method} ${op.path} without a token (--auth-token-file)`, {
      expect: open ? [200] : [401],
    });
    if (!open) {
      const wrong = await probe(secured.base, op, { ...request, headers: { Authorization: 'Bearer wrong-token-0123456789' } }, `${op.method} ${op.path} with a wrong token`, { expect: 401, problem: { code: 'unauthorized' } });
      if (wrong) check(/invalid_token/.test(wrong.answer.headers['www-authenticate'] ?? ''), `${op.method} ${op.path} wrong token: WWW-Authenticate says invalid_token`);
      const right = await exchange(secured.base, { ...request, headers: { Authorization: `Bearer ${token}` } });
      check(right.status !== 401, `${op.method} ${op.path} with the token: not 401`, String(right.status));
    }
  }
  secured.child.kill('SIGKILL');

  // --sntp-allow: a server outside the list is 403.
  const restricted = await startNetdiag(['--sntp-allow', '192.0.2.0/24']);
  await probe(restricted.base, byPath.get('/time/sntp'), { query: new URLSearchParams(`server=127.0.0.1:${ntpPort}`) }, 'GET /time/sntp outside --sntp-allow', { expect: 403, problem: { code: 'forbidden' } });
  restricted.child.kill('SIGKILL');

  // --slow-max-waiting 1: with one slow request waiting, the next is 503 busy.
  const busy = await startNetdiag(['--slow-max-waiting', '1', '--slow-workers', '1']);
  const waiting = exchange(busy.base, { path: '/time/sntp', query: new URLSearchParams(`server=127.0.0.1:${silentPort}&timeout_ms=3000`) });
  await sleep(300);
  for (const [path, query] of [['/resolve', 'host=localhost'], ['/time/sntp', `server=127.0.0.1:${ntpPort}`], ['/hostinfo', '']]) {
    await probe(busy.base, byPath.get(path), { query: new URLSearchParams(query) }, `GET ${path} past --slow-max-waiting`, { expect: 503, problem: { code: 'busy' } });
  }
  const late = await waiting;
  validate(byPath.get('/time/sntp'), late, 'GET /time/sntp that held the slot');
  busy.child.kill('SIGKILL');

  // Draining after SIGTERM: /readyz is 503 while the listener stays open.
  const draining = await startNetdiag(['--drain-delay', '10']);
  draining.child.kill('SIGTERM');
  for (let i = 0; i < 50 && (await exchange(draining.base, { path: '/readyz' })).status !== 503; i++) await sleep(100);
  const notReady = await probe(draining.base, byPath.get('/readyz'), {}, 'GET /readyz while draining', { expect: 503 });
  if (notReady?.body) check(notReady.body.status === 'not_ready' && typeof notReady.body.reason === 'string', 'GET /readyz while draining: not_ready with a reason');
  draining.child.kill('SIGKILL');

  // Without Swagger UI's files, /docs is a 503 page saying how to get them.
  // (An explicit --docs-dir without them is refused at start-up; a copy of
  // the binary with none beside it is what an install without npm looks like.)
  const bareDir = join(scratch, 'no-docs');
  mkdirSync(bareDir);
  const bareBinary = join(bareDir, 'netdiag');
  copyFileSync(binary, bareBinary);
  chmodSync(bareBinary, 0o755);
  const bare = await startNetdiag([], bareBinary);
  await probe(bare.base, byPath.get('/docs'), {}, 'GET /docs without Swagger UI', { expect: 503 });
  await probe(bare.base, byPath.get('/docs/{file}'), { path: '/docs/swagger-ui.css' }, 'GET /docs/swagger-ui.css without Swagger UI', { expect: 404 });
  bare.child.kill('SIGKILL');

  // A fleet whose peers' name does not exist: the DNS failure is data, and
  // the matrix is this pod's own row alone (address null: no --pod-ip). With
  // --slow-max-waiting 1, scope=all (which waits on the network) is a 503
  // while another slow request holds the one slot; scope=self still answers.
  const fleetOp = byPath.get('/fleet');
  const lonely = await startNetdiag([
    '--peers-dns', 'nothing-here.fleet.test', '--peers-dns-server', `127.0.0.1:${fleet.dnsPort}`, '--peers-interval', '1',
    '--slow-max-waiting', '1', '--slow-workers', '1',
  ]);
  // Its first lookup is under way at once; wait for it to end.
  for (let i = 0; i < 50; i++) {
    const first = JSON.parse((await exchange(lonely.base, { path: '/fleet' })).body);
    if (first.peers_dns?.ok !== null) break;
    await sleep(100);
  }
  const nx = (await probe(lonely.base, fleetOp, {}, "GET /fleet, the peers' name does not exist", { expect: 200 }))?.body;
  if (nx)
    check(nx.peers_dns.ok === false && nx.peers_dns.rcode === 'NXDOMAIN' && nx.peers_dns.error?.code === 'nxdomain' && nx.peers_dns.failures >= 1 && nx.peers.length === 0 && nx.self.address === null && nx.self.node === null, "GET /fleet, the peers' name does not exist: NXDOMAIN, no peers", JSON.stringify(nx));
  const alone = (await probe(lonely.base, fleetOp, { query: new URLSearchParams('scope=all') }, "GET /fleet?scope=all, the peers' name does not exist", { expect: 200 }))?.body;
  if (alone)
    check(alone.columns.length === 0 && alone.rows.length === 1 && alone.rows[0].from.address === null && alone.rows[0].reachable && alone.rows[0].dns_ok === false && alone.rows[0].cells.length === 0, "GET /fleet?scope=all, the peers' name does not exist: its own row alone", JSON.stringify(alone.rows));
  const holding = exchange(lonely.base, { path: '/time/sntp', query: new URLSearchParams(`server=127.0.0.1:${silentPort}&timeout_ms=3000`) });
  await sleep(300);
  await probe(lonely.base, fleetOp, { query: new URLSearchParams('scope=all') }, 'GET /fleet?scope=all past --slow-max-waiting', { expect: 503, problem: { code: 'busy' } });
  await probe(lonely.base, fleetOp, {}, 'GET /fleet (scope=self) past --slow-max-waiting', { expect: 200 });
  await holding;
  lonely.child.kill('SIGKILL');
}

// --- Main ------------------------------------------------------------------

let exitCode = 1;
try {
  // Every schema in the document compiles.
  for (const name of Object.keys(document.components?.schemas ?? {})) {
    try {
      validatorFor(`#/components/schemas/${name}`);
      check(true, `schema ${name} compiles`);
    } catch (error) {
      check(false, `schema ${name} compiles`, String(error));
    }
  }

  const ntpPort = await startFakeNtp('good');
  const silentPort = await startFakeNtp('silent');
  const kissPort = await startFakeNtp('kiss-RATE');
  dnsPort = await startUnbound();
  const dnsSilentPort = await startFakeDns('silent');
  const dnsTextPort = await startFakeDns('text');
  const docsDir = options['docs-dir'];
  // The default SNTP server (used when no server= is given) is local too.
  const main = await startNetdiag([
    '--sntp-server', `127.0.0.1:${ntpPort}`,
    '--dns-servers', `127.0.0.1:${dnsPort}`,
    ...(docsDir ? ['--docs-dir', resolve(docsDir)] : []),
  ]);

  // unbound takes a moment to load its zones.
  for (let i = 0; i < 100; i++) {
    const ready = await exchange(main.base, { path: '/dns', query: new URLSearchParams('name=www.netdiag.test&timeout_ms=200') });
    if (ready.status === 200) break;
    await sleep(100);
  }
  // The fleet view is off on main; /fleet's own checks go to a pod of the fleet.
  fleet = await startFleet({ binary, addresses: fleetAddresses, track: (child) => children.push(child) });
  const settled = await waitForMatrix(fleet.pods[0].base, (matrix) => allHealthy(matrix, fleetAddresses.length));
  check(settled.ok, `the fleet settles: ${fleetAddresses.length} pods, every cell healthy`, settled.text.slice(0, 600));
  for (const op of operations) await checkOperation(op.path === '/fleet' ? fleet.pods[0].base : main.base, op, { ntpPort });
  await checkScenarios(main.base, { ntpPort, silentPort, kissPort, dnsSilentPort, dnsTextPort });
  await checkFleet(main.base, fleet);
  await checkOtherServers({ ntpPort, silentPort });

  // What the document declares and no request produced (information only:
  // 500s and out-of-memory 503s cannot be caused from outside).
  for (const op of operations) {
    const seen = exercised.get(op) ?? new Set();
    const missing = Object.keys(op.operation.responses ?? {}).filter((status) => !seen.has(status));
    if (missing.length) console.log(`note ${op.method} ${op.path}: declared, not exercised: ${missing.join(', ')}`);
  }
  exitCode = failed === 0 ? 0 : 1;
} catch (error) {
  check(false, 'contract test ran to the end', error.stack ?? String(error));
} finally {
  stopAll();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? exitCode : 1);
