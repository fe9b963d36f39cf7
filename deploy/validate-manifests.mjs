// Validates deploy/kubernetes offline against the Kubernetes API schemas as
// packaged by npm's kubernetes-models: every resource of a kustomization is
// checked by its kind's validator (types, required fields, enums, formats),
// and, because the API schemas let unknown fields through (the API server
// drops them silently), every field name is checked against the kind's
// declared properties, so a typo such as `replica: 2` fails. Then the
// operational requirements of the deployment are asserted: the base
// Deployment's, the HTTPS overlay's, the fleet view's DaemonSet's.
//
// usage: node validate-manifests.mjs INPUT [--same-as REFERENCE]
//   INPUT, REFERENCE: a kustomization directory (built here, see load), or a
//   YAML file of resources (what `kubectl kustomize` renders).
//   --same-as: the fleet's DaemonSet must run the pod REFERENCE's Deployment
//   runs (image, security context, probes, resources, environment).
import { readFileSync, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import yaml from 'js-yaml';

const require = createRequire(import.meta.url);
const modelsRoot = dirname(require.resolve('kubernetes-models/package.json'));
const argv = process.argv.slice(2);
const sameAsAt = argv.indexOf('--same-as');
const reference = sameAsAt >= 0 ? resolve(argv.splice(sameAsAt, 2)[1]) : null;
const input = resolve(argv[0]);
let failures = 0;
let passes = 0;
const check = (ok, what) => {
  if (ok) passes++;
  else {
    failures++;
    console.log(`FAIL ${what}`);
  }
  return ok;
};

// --- field names, from the models' TypeScript declarations ---
const interfaces = new Map(); // declaration file -> {properties: Map(name -> {file, array})} | null
const nodeModules = dirname(modelsRoot);
function declarationFile(specifier, from) {
  // Packages are installed flat beside kubernetes-models; their "exports"
  // maps hide the declaration files from require.resolve.
  const base = specifier.startsWith('.') ? resolve(dirname(from), specifier) : join(nodeModules, specifier);
  return base.replace(/\.js$/, '') + '.d.ts';
}
function describe(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  const text = readFileSync(file, 'utf8');
  const imports = new Map();
  for (const match of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) imports.set(match[1], match[2]);
  const body = text.match(/export interface \w+(?: extends [^{]+)? \{\n([\s\S]*?)\n\}/);
  if (!body) {
    interfaces.set(file, null); // a type alias such as IntOrString: a leaf
    return null;
  }
  const properties = new Map();
  for (const match of body[1].matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
    const type = match[2];
    const reference = type.match(/\b(I[A-Z]\w+)\b/);
    const target = reference && imports.has(reference[1]) ? declarationFile(imports.get(reference[1]), file) : null;
    properties.set(match[1], { file: target, array: type.startsWith('Array<') });
  }
  const entry = { properties };
  interfaces.set(file, entry);
  return entry;
}
function unknownFields(value, file, path) {
  const entry = file && describe(file);
  if (!entry || value === null || typeof value !== 'object') return [];
  const found = [];
  for (const [key, child] of Object.entries(value)) {
    const property = entry.properties.get(key);
    if (!property) {
      found.push(`${path}.${key}`);
      continue;
    }
    const items = property.array && Array.isArray(child) ? child : [child];
    items.forEach((item, index) =>
      found.push(...unknownFields(item, property.file, property.array ? `${path}.${key}[${index}]` : `${path}.${key}`)));
  }
  return found;
}

// --- the resources ---
// A kustomization lists files and other kustomizations among its resources,
// then its components (kind: Component) change them, then its own patches:
// RFC 6902 operations (add and replace) on the resources a target selects,
// its fields anchored regular expressions, as kustomize does. Anything else
// kustomize does (labels, images, ...) is left to `kubectl kustomize`, which
// validate-manifests.sh runs where kubectl is installed.
function pointer(document, path) {
  const keys = path.split('/').slice(1).map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop();
  let parent = document;
  for (const key of keys) parent = parent?.[Array.isArray(parent) ? Number(key) : key];
  return { parent, last };
}
function applyPatch(document, operations, where) {
  for (const operation of operations) {
    const { parent, last } = pointer(document, operation.path);
    if (!check(parent !== undefined && ['add', 'replace'].includes(operation.op), `${where}: ${operation.op} ${operation.path}`)) continue;
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(operation.value);
      else parent.splice(Number(last), operation.op === 'add' ? 0 : 1, operation.value);
    } else {
      parent[last] = operation.value;
    }
  }
}
function selects(target, document) {
  const [group, version] = document.apiVersion.includes('/') ? document.apiVersion.split('/') : ['', document.apiVersion];
  const fields = { group, version, kind: document.kind, name: document.metadata?.name };
  return Object.entries(fields).every(([key, value]) => target[key] === undefined || new RegExp(`^(?:${target[key]})$`).test(value));
}
function applyPatches(dir, kustomization, loaded) {
  for (const patch of kustomization.patches ?? []) {
    const operations = yaml.load(readFileSync(join(dir, patch.path), 'utf8'));
    const targets = loaded.filter(({ document }) => selects(patch.target ?? {}, document));
    check(targets.length >= 1, `${dir}/${patch.path}: a resource to patch`);
    for (const { document } of targets) applyPatch(document, operations, patch.path);
  }
}
function load(dir) {
  const kustomization = yaml.load(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
  check(kustomization.kind === 'Kustomization', `${dir}/kustomization.yaml is a Kustomization`);
  const loaded = [];
  for (const name of kustomization.resources ?? []) {
    const path = join(dir, name);
    check(existsSync(path), `${name} exists`);
    if (!existsSync(path)) continue;
    if (existsSync(join(path, 'kustomization.yaml'))) loaded.push(...load(path));
    else for (const document of yaml.loadAll(readFileSync(path, 'utf8'))) loaded.push({ name, document });
  }
  for (const name of kustomization.components ?? []) {
    const path = join(dir, name);
    const component = yaml.load(readFileSync(join(path, 'kustomization.yaml'), 'utf8'));
    check(component.kind === 'Component', `${path}/kustomization.yaml is a Component`);
    applyPatches(path, component, loaded);
  }
  applyPatches(dir, kustomization, loaded);
  return loaded;
}
function resourcesOf(path) {
  if (statSync(path).isDirectory()) return load(path);
  return yaml.loadAll(readFileSync(path, 'utf8'))
    .filter(Boolean)
    .map((document) => ({ name: `${document.kind}/${document.metadata?.name}`, document }));
}
const resources = resourcesOf(input);
for (const { name, document } of resources) {
  const [group, version] = document.apiVersion.includes('/') ? document.apiVersion.split('/') : [null, document.apiVersion];
  const modelPath = group ? `kubernetes-models/${group}/${version}/${document.kind}` : `kubernetes-models/${version}/${document.kind}`;
  let Model;
  try {
    Model = (await import(modelPath))[document.kind];
  } catch {
    check(false, `${name}: unknown apiVersion/kind ${document.apiVersion} ${document.kind}`);
    continue;
  }
  try {
    new Model(document).validate();
    check(true, `${name} schema`);
  } catch (error) {
    check(false, `${name}: ${error.message}`);
  }
  const unknown = unknownFields(document, join(modelsRoot, `${modelPath.replace('kubernetes-models/', '')}.d.ts`), document.kind);
  check(unknown.length === 0, `${name}: unknown fields ${unknown.join(', ')}`);
}

// --- what these manifests promise operators ---
const byKind = (kind, from = resources) => from.find((resource) => resource.document.kind === kind)?.document;
const podOf = (workload) => workload?.spec?.template?.spec ?? {};
const containerOf = (workload) => podOf(workload).containers?.[0] ?? {};

// The kubelet's $(NAME) expansion of an env value: a reference to a variable
// declared earlier in the container's list expands to its value, any other
// stays as written; $$ is a literal $. (Kubernetes' third_party/forked/golang/
// expansion; the kubelet resolves the list in order, valueFrom included.)
function expand(text, earlier) {
  const unresolved = [];
  const value = text.replace(/\$(\$|\(([^)]*)\))/g, (whole, escape, name) => {
    if (escape === '$') return '$';
    if (earlier.has(name)) return earlier.get(name);
    unresolved.push(name);
    return whole;
  });
  return { value, unresolved };
}
// Every variable, expanded as the kubelet would, with downward API fields
// taken from a sample pod; and the references left as written.
function environment(container, downward = {}) {
  const values = new Map();
  const unresolved = [];
  for (const variable of container.env ?? []) {
    if (variable.valueFrom?.fieldRef) {
      values.set(variable.name, downward[variable.valueFrom.fieldRef.fieldPath] ?? `<${variable.valueFrom.fieldRef.fieldPath}>`);
      continue;
    }
    const expanded = expand(String(variable.value ?? ''), values);
    unresolved.push(...expanded.unresolved.map((name) => `$(${name}) in ${variable.name}`));
    values.set(variable.name, expanded.value);
  }
  return { values, unresolved };
}

// What every netdiag pod promises, a Deployment's or a DaemonSet's.
function checkPod(workload) {
  const what = `${workload.kind} ${workload.metadata?.name}`;
  const pod = podOf(workload);
  const container = containerOf(workload);
  check(container.livenessProbe?.httpGet?.path === '/healthz', `${what}: liveness probe on /healthz`);
  check(container.readinessProbe?.httpGet?.path === '/readyz', `${what}: readiness probe on /readyz`);
  check(container.resources?.requests?.cpu && container.resources?.limits?.memory, `${what}: resource requests and limits`);
  check(pod.securityContext?.runAsNonRoot === true || container.securityContext?.runAsNonRoot === true, `${what}: runAsNonRoot`);
  check(container.securityContext?.readOnlyRootFilesystem === true, `${what}: readOnlyRootFilesystem`);
  check(container.securityContext?.allowPrivilegeEscalation === false, `${what}: no privilege escalation`);
  check(JSON.stringify(container.securityContext?.capabilities?.drop) === '["ALL"]', `${what}: all capabilities dropped`);
  const selector = Object.entries(workload.spec?.selector?.matchLabels ?? {});
  check(selector.length > 0 && selector.every(([key, value]) => workload.spec.template.metadata?.labels?.[key] === value),
    `${what}: the selector selects the pod template's labels`);
  const { values: env, unresolved } = environment(container);
  check(unresolved.length === 0, `${what}: every $(NAME) in env names a variable declared earlier in the list ` +
    `(the kubelet leaves any other as written)${unresolved.length ? `; not ${unresolved.join(', ')}` : ''}`);
  // The HTTPS overlays: the certificate from a Secret, read-only and
  // readable by netdiag's user, and probes that speak HTTPS.
  if (env.has('NETDIAG_TLS_CERT')) {
    const mount = (container.volumeMounts ?? []).find((m) => env.get('NETDIAG_TLS_CERT').startsWith(`${m.mountPath}/`));
    check(mount?.readOnly === true, `${what}: the TLS certificate is mounted read-only`);
    const volume = (pod.volumes ?? []).find((v) => v.name === mount?.name);
    check(Boolean(volume?.secret?.secretName), `${what}: the TLS certificate comes from a Secret`);
    check(env.get('NETDIAG_TLS_KEY')?.startsWith(`${mount?.mountPath}/`), `${what}: the key is mounted beside it`);
    // Secret files belong to root, and to the group fsGroup names if any.
    const mode = volume?.secret?.defaultMode ?? 0o644;
    const user = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
    check(user !== 0 && ((mode & 0o004) !== 0 || ((mode & 0o040) !== 0 && pod.securityContext?.fsGroup !== undefined)),
      `${what}: user ${user} can read the Secret's files (mode 0${mode.toString(8)}, fsGroup ${pod.securityContext?.fsGroup})`);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'])
      check(container[probe]?.httpGet?.scheme === 'HTTPS', `${what}: ${probe} speaks HTTPS`);
  }
}

const deployment = byKind('Deployment');
const daemonSet = byKind('DaemonSet');
check(Boolean(deployment) !== Boolean(daemonSet), 'a Deployment or the fleet\'s DaemonSet');
for (const workload of [deployment, daemonSet].filter(Boolean)) checkPod(workload);
const service = byKind('Service');
const ports = new Set((service?.spec?.ports ?? []).map((port) => `${port.port}/${port.protocol ?? 'TCP'}`));
check(ports.has('8080/TCP') && ports.has('9900/TCP') && ports.has('9900/UDP'), 'Service exposes 8080, 9900 and 9900/UDP');

if (deployment) {
  check(deployment.spec?.replicas === 2, 'Deployment: 2 replicas');
  check(byKind('HorizontalPodAutoscaler')?.spec?.metrics?.[0]?.resource?.name === 'cpu', 'HPA on CPU');
  check(byKind('PodDisruptionBudget') !== undefined, 'PodDisruptionBudget');
}

// The fleet view: a DaemonSet on every node, whose pods find each other
// through a headless Service's name.
if (daemonSet) {
  const pod = podOf(daemonSet);
  const container = containerOf(daemonSet);
  const labels = daemonSet.spec?.template?.metadata?.labels ?? {};
  check(!byKind('HorizontalPodAutoscaler') && !byKind('PodDisruptionBudget'),
    'fleet: no HPA (it cannot scale a DaemonSet) and no PodDisruptionBudget');
  check((pod.tolerations ?? []).some((t) => t.operator === 'Exists' && !t.key && !t.effect),
    'fleet: tolerates every taint (control-plane nodes included)');
  check(!pod.nodeSelector && !pod.affinity, 'fleet: no node selector or affinity keeps it off a node');

  const peers = resources.map((r) => r.document).filter((d) => d.kind === 'Service' && d.spec?.clusterIP === 'None');
  check(peers.length === 1, 'fleet: one headless Service (clusterIP: None)');
  const headless = peers[0] ?? { spec: {} };
  check(headless.spec.publishNotReadyAddresses === true, 'fleet: the headless Service publishes not-ready pods too');
  const selector = Object.entries(headless.spec.selector ?? {});
  check(selector.length > 0 && selector.every(([key, value]) => labels[key] === value),
    'fleet: the headless Service selects the DaemonSet\'s pods');
  const containerPorts = new Map((container.ports ?? []).map((p) => [p.name, p]));
  for (const [name, number, protocol] of [['http', 8080, 'TCP'], ['echo', 9900, 'TCP'], ['echo-udp', 9900, 'UDP']]) {
    const port = (headless.spec.ports ?? []).find((p) => p.name === name);
    const target = containerPorts.get(port?.targetPort);
    check(port?.port === number && (port.protocol ?? 'TCP') === protocol && target?.containerPort === number &&
      (target.protocol ?? 'TCP') === protocol, `fleet: the headless Service's ${name} port, ${number}/${protocol}, on the pod's`);
  }

  // The downward API, and the peers' name built from the namespace.
  const fields = new Map((container.env ?? []).filter((v) => v.valueFrom?.fieldRef).map((v) => [v.name, v.valueFrom.fieldRef.fieldPath]));
  check(fields.get('NETDIAG_POD_IP') === 'status.podIP', 'fleet: NETDIAG_POD_IP from status.podIP');
  check(fields.get('NETDIAG_NODE_NAME') === 'spec.nodeName', 'fleet: NETDIAG_NODE_NAME from spec.nodeName');
  check([...fields.values()].includes('metadata.namespace'), 'fleet: the namespace from metadata.namespace');
  const env = environment(container, { 'metadata.namespace': 'sample-namespace' }).values;
  check(env.get('NETDIAG_PEERS_DNS') === `${headless.metadata?.name}.sample-namespace.svc.cluster.local`,
    `fleet: NETDIAG_PEERS_DNS is the headless Service's name in the pod's namespace (${env.get('NETDIAG_PEERS_DNS')} in sample-namespace)`);

  // The same pod as the Deployment's, but for what makes it the fleet's.
  if (check(reference !== null, 'fleet: --same-as names the Deployment to compare with')) {
    const base = byKind('Deployment', resourcesOf(reference));
    const basePod = podOf(base);
    const baseLabels = base?.spec?.template?.metadata?.labels ?? {};
    check(!selector.every(([key, value]) => baseLabels[key] === value),
      'fleet: the headless Service does not select the Deployment\'s pods (they are no peers)');
    const baseContainer = containerOf(base);
    for (const field of ['securityContext', 'terminationGracePeriodSeconds', 'automountServiceAccountToken', 'volumes'])
      check(isDeepStrictEqual(pod[field], basePod[field]), `fleet: the pod's ${field} is the Deployment's`);
    for (const field of ['image', 'imagePullPolicy', 'securityContext', 'livenessProbe', 'readinessProbe', 'startupProbe', 'resources', 'volumeMounts'])
      check(isDeepStrictEqual(container[field], baseContainer[field]), `fleet: the container's ${field} is the Deployment's`);
    for (const variable of baseContainer.env ?? [])
      check((container.env ?? []).some((v) => isDeepStrictEqual(v, variable)), `fleet: ${variable.name} as the Deployment sets it`);
    for (const port of baseContainer.ports ?? [])
      check((container.ports ?? []).some((p) => isDeepStrictEqual(p, port)), `fleet: the Deployment's port ${port.name}`);
  }
}

console.log(`${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
