// Validates deploy/kubernetes offline against the Kubernetes API schemas as
// packaged by npm's kubernetes-models: every resource of kustomization.yaml
// is checked by its kind's validator (types, required fields, enums,
// formats), and, because the API schemas let unknown fields through (the API
// server drops them silently), every field name is checked against the kind's
// declared properties, so a typo such as `replica: 2` fails. Then the
// operational requirements of this deployment are asserted.
//
// usage: node validate-manifests.mjs KUSTOMIZATION_DIR
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import yaml from 'js-yaml';

const require = createRequire(import.meta.url);
const modelsRoot = dirname(require.resolve('kubernetes-models/package.json'));
const directory = resolve(process.argv[2]);
let failures = 0;
let passes = 0;
const check = (ok, what) => {
  if (ok) passes++;
  else {
    failures++;
    console.log(`FAIL ${what}`);
  }
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
const kustomization = yaml.load(readFileSync(join(directory, 'kustomization.yaml'), 'utf8'));
check(kustomization.kind === 'Kustomization', 'kustomization.yaml is a Kustomization');
const resources = [];
for (const name of kustomization.resources ?? []) {
  const path = join(directory, name);
  check(existsSync(path), `${name} exists`);
  if (!existsSync(path)) continue;
  for (const document of yaml.loadAll(readFileSync(path, 'utf8'))) resources.push({ name, document });
}
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

// --- what this deployment promises operators ---
const byKind = (kind) => resources.find((resource) => resource.document.kind === kind)?.document;
const deployment = byKind('Deployment');
const container = deployment?.spec?.template?.spec?.containers?.[0] ?? {};
const pod = deployment?.spec?.template?.spec ?? {};
check(deployment?.spec?.replicas === 2, 'Deployment: 2 replicas');
check(container.livenessProbe?.httpGet?.path === '/healthz', 'liveness probe on /healthz');
check(container.readinessProbe?.httpGet?.path === '/readyz', 'readiness probe on /readyz');
check(container.resources?.requests?.cpu && container.resources?.limits?.memory, 'resource requests and limits');
check(pod.securityContext?.runAsNonRoot === true || container.securityContext?.runAsNonRoot === true, 'runAsNonRoot');
check(container.securityContext?.readOnlyRootFilesystem === true, 'readOnlyRootFilesystem');
check(container.securityContext?.allowPrivilegeEscalation === false, 'no privilege escalation');
check(JSON.stringify(container.securityContext?.capabilities?.drop) === '["ALL"]', 'all capabilities dropped');
const service = byKind('Service');
const ports = new Set((service?.spec?.ports ?? []).map((port) => `${port.port}/${port.protocol ?? 'TCP'}`));
check(ports.has('8080/TCP') && ports.has('9900/TCP') && ports.has('9900/UDP'), 'Service exposes 8080, 9900 and 9900/UDP');
check(byKind('HorizontalPodAutoscaler')?.spec?.metrics?.[0]?.resource?.name === 'cpu', 'HPA on CPU');
check(byKind('PodDisruptionBudget') !== undefined, 'PodDisruptionBudget');

console.log(`${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
