// A fleet simulated on this machine, for the contract and browser tests: a
// real DNS server (dnsmasq, started here) answering one name with a few
// loopback addresses, and a netdiag on each address with --peers-dns, all on
// the same ports, as the pods of a DaemonSet behind a headless Service are.
//
//   const fleet = await startFleet({ binary, addresses: ['127.0.0.21', ...], track });
//   fleet.pods[0].base        // http://127.0.0.21:PORT
//   await waitForMatrix(fleet.pods[0].base, (matrix) => ...);
//   fleet.stop();
//
// Everything listens on the loopback only; dnsmasq answers the name from a
// hosts file and nothing else (no upstream, no /etc/hosts, no configuration
// file, no pid file). track(child) is called for every process started, so
// that the caller's own clean-up kills them too.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const defaultDnsmasq = process.env.NETDIAG_DNSMASQ ?? (existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : 'dnsmasq');

// Whether a port is free on an address, for TCP and (when udp) UDP too.
async function portFree(address, port, udp) {
  const tcp = net.createServer();
  const tcpFree = await new Promise((ok) => {
    tcp.once('error', () => ok(false));
    tcp.listen(port, address, () => ok(true));
  });
  if (tcpFree) await new Promise((ok) => tcp.close(ok));
  if (!tcpFree || !udp) return tcpFree;
  const socket = dgram.createSocket('udp4');
  const udpFree = await new Promise((ok) => {
    socket.once('error', () => ok(false));
    socket.bind(port, address, () => ok(true));
  });
  if (udpFree) socket.close();
  return udpFree;
}

// A port free on every address, below the kernel's ephemeral range (where
// no client connection can take it in the meantime).
async function freePort(addresses, udp) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    let free = true;
    for (const address of addresses) free = free && (await portFree(address, port, udp));
    if (free) return port;
  }
  throw new Error(`no port free on ${addresses.join(', ')}`);
}

// An A query for name, as bytes (RFC 1035 4.1): id, RD, one question.
function aQuery(name, id) {
  const labels = name.split('.').filter(Boolean).map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

// True once the server at 127.0.0.1:port answers an A query for name.
async function dnsAnswers(port, name) {
  const socket = dgram.createSocket('udp4');
  const id = Math.floor(Math.random() * 65536);
  try {
    return await new Promise((ok) => {
      const timer = setTimeout(() => ok(false), 200);
      socket.on('message', (reply) => {
        if (reply.length >= 12 && reply.readUInt16BE(0) === id) {
          clearTimeout(timer);
          ok(true);
        }
      });
      socket.on('error', () => {
        clearTimeout(timer);
        ok(false);
      });
      socket.send(aQuery(name, id), port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

// A process that says it started by printing a line that matches ready.
function startProcess(program, args, ready, track) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${program} ${args.join(' ')} did not start: ${output}`)), 10000);
    const onData = (chunk) => {
      output += chunk;
      const match = ready && output.match(ready);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, match, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${program} ${args.join(' ')} exited with ${code ?? signal}: ${output}`));
    });
  });
}

function stopChild(child, signal = 'SIGKILL') {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

// The fleet: dnsmasq on 127.0.0.1 answering name with addresses, and a
// netdiag on each address (pod-ip the address, node-name node-<last byte>).
// A port taken between the check and the start (another test) is retried.
export async function startFleet({
  binary,
  addresses,
  track = () => {},
  name = 'netdiag-peers.fleet.test',
  interval = 1,
  extra = [],
  dnsmasq = defaultDnsmasq,
}) {
  // dnsmasq reads its hosts file after it has dropped root for nobody:
  // a directory of its own that anyone may read, and nothing else in it.
  const hostsDirectory = mkdtempSync(join(tmpdir(), 'netdiag-fleet-dns-'));
  chmodSync(hostsDirectory, 0o755);
  const hostsFile = join(hostsDirectory, 'hosts');
  writeFileSync(hostsFile, addresses.map((address) => `${address} ${name}\n`).join(''));
  chmodSync(hostsFile, 0o644);
  const domain = name.split('.').at(-1);

  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = [];
    const trackHere = (child) => {
      started.push(child);
      track(child);
    };
    try {
      const dnsPort = await freePort(['127.0.0.1'], true);
      const dns = spawn(
        dnsmasq,
        [
          '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file', `--port=${dnsPort}`,
          '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts',
          `--addn-hosts=${hostsFile}`, `--local=/${domain}/`, '--local-ttl=0', '--log-facility=-',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      trackHere(dns);
      let dnsOutput = '';
      dns.stderr.on('data', (chunk) => (dnsOutput += chunk));
      let answering = false;
      for (let i = 0; i < 50 && !answering && dns.exitCode === null; i++) {
        answering = await dnsAnswers(dnsPort, name);
        if (!answering) await sleep(50);
      }
      if (!answering) throw new Error(`dnsmasq on 127.0.0.1:${dnsPort} does not answer: ${dnsOutput}`);

      const httpPort = await freePort(addresses, false);
      const echoPort = await freePort(addresses, true);
      const pods = [];
      for (const address of addresses) {
        const node = `node-${address.split('.').at(-1)}`;
        const args = [
          '--listen', `${address}:${httpPort}`, '--echo-listen', `${address}:${echoPort}`, '--access-log', 'off',
          '--peers-dns', name, '--peers-dns-server', `127.0.0.1:${dnsPort}`, '--peers-interval', String(interval),
          '--pod-ip', address, '--node-name', node, ...extra,
        ];
        const { child } = await startProcess(binary, args, /event=listening http=(\S+)/, trackHere);
        pods.push({ address, node, child, base: `http://${address}:${httpPort}` });
      }
      return {
        name,
        dnsPort,
        httpPort,
        echoPort,
        pods,
        dns,
        stop() {
          for (const child of started) stopChild(child);
          rmSync(hostsDirectory, { recursive: true, force: true });
        },
      };
    } catch (error) {
      lastError = error;
      for (const child of started) stopChild(child);
    }
  }
  rmSync(hostsDirectory, { recursive: true, force: true });
  throw lastError;
}

export function getJson(base, target) {
  return new Promise((resolvePromise, reject) => {
    const request = http.get(`${base}${target}`, { agent: false }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: left null
        }
        resolvePromise({ status: response.statusCode, headers: response.headers, body, text });
      });
    });
    request.setTimeout(15000, () => request.destroy(new Error(`GET ${target}: no answer in 15 s`)));
    request.on('error', reject);
  });
}

// Asks base for the matrix until done(matrix) holds, or seconds pass; the
// last answer either way.
export async function waitForMatrix(base, done, { seconds = 15, timeoutMs = 2000 } = {}) {
  const deadline = Date.now() + seconds * 1000;
  let answer;
  for (;;) {
    answer = await getJson(base, `/fleet?scope=all&timeout_ms=${timeoutMs}`);
    if (answer.status === 200 && answer.body && done(answer.body)) return { ...answer, ok: true };
    if (Date.now() > deadline) return { ...answer, ok: false };
    await sleep(250);
  }
}

// Every row reachable, every cell healthy, every pod named: the fleet has settled.
export function allHealthy(matrix, count) {
  return (
    matrix.columns.length === count &&
    matrix.columns.every((column) => column.node) &&
    matrix.rows.length === count &&
    matrix.rows.every((row) => row.reachable && row.cells.every((cell) => cell?.state === 'healthy'))
  );
}
