// A test identity provider on node:crypto only: RSA-2048, EC P-256 and Ed25519 key pairs with
// their public JWKs, compact JWS signing (RS256, ES256, EdDSA, HS256, and deliberately broken
// tokens), and a JWKS HTTP server on 127.0.0.1:0 whose key set can be swapped (IdP key
// rotation) and which counts the requests it served.
import crypto from 'node:crypto';
import http from 'node:http';

/** base64url without padding (RFC 7515). */
export function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

const ALG_OF_TYPE = { rsa: 'RS256', ec: 'ES256', ed25519: 'EdDSA' };

/**
 * A new signing key: type 'rsa' (RSA-2048, RS256), 'ec' (P-256, ES256) or 'ed25519' (EdDSA).
 * Returns {kid, alg, privateKey, publicKey, jwk} where jwk is the public JWK with kid, alg and
 * use "sig".
 */
export function generateKey(type, kid = `${type}-${crypto.randomBytes(6).toString('hex')}`) {
  let pair;
  if (type === 'rsa') {
    pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  } else if (type === 'ec') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  } else if (type === 'ed25519') {
    pair = crypto.generateKeyPairSync('ed25519');
  } else {
    throw new Error(`unknown key type ${type}`);
  }
  const alg = ALG_OF_TYPE[type];
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { kid, alg, type, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

/** A JWKS document {"keys": [...]} of the given keys' public JWKs. */
export function jwks(keys) {
  return { keys: keys.map((k) => k.jwk) };
}

function signingInput(header, payload) {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
}

/**
 * The raw signature of `input` for `alg` with `key` (a KeyObject, or the HMAC secret).
 * ES256 signatures are JOSE r||s (64 bytes) unless `dsaEncoding` is 'der' (a wrong encoding
 * for JWS, for negative tests).
 */
export function rawSignature(alg, key, input, dsaEncoding = 'ieee-p1363') {
  const data = Buffer.from(input);
  switch (alg) {
    case 'RS256': return crypto.sign('sha256', data, key);
    case 'ES256': return crypto.sign('sha256', data, { key, dsaEncoding });
    case 'EdDSA': return crypto.sign(null, data, key);
    case 'HS256': return crypto.createHmac('sha256', key).update(data).digest();
    default: throw new Error(`cannot sign ${alg}`);
  }
}

/** Seconds since the epoch. */
export function nowS() {
  return Math.floor(Date.now() / 1000);
}

/**
 * Signs a compact JWS with a key from generateKey(). `claims` are merged over
 * {iat: now, exp: now + 300}. `opts.header` is merged over {alg, typ: 'JWT', kid}; pass
 * `kid: undefined` in it to drop the kid. `opts.dsaEncoding: 'der'` makes a (wrong) DER ES256
 * signature.
 */
export function signToken(key, claims, opts = {}) {
  const now = nowS();
  const header = { alg: key.alg, typ: 'JWT', kid: key.kid, ...(opts.header || {}) };
  if (header.kid === undefined) delete header.kid;
  const payload = { iat: now, exp: now + 300, ...claims };
  const input = signingInput(header, payload);
  return `${input}.${b64url(rawSignature(key.alg, key.privateKey, input, opts.dsaEncoding))}`;
}

/** An HS256 token signed with `secret` (a string or Buffer); claims as in signToken. */
export function signHs256(secret, claims, opts = {}) {
  const now = nowS();
  const header = { alg: 'HS256', typ: 'JWT', ...(opts.header || {}) };
  const payload = { iat: now, exp: now + 300, ...claims };
  const input = signingInput(header, payload);
  return `${input}.${b64url(rawSignature('HS256', secret, input))}`;
}

/** An unsigned token (alg "none", empty signature part) with a kid, if given. */
export function unsignedToken(claims, kid) {
  const now = nowS();
  const header = { alg: 'none', typ: 'JWT', ...(kid ? { kid } : {}) };
  return `${signingInput(header, { iat: now, exp: now + 300, ...claims })}.`;
}

/** `token` with one signature byte flipped (still valid base64url of the same length). */
export function tamperSignature(token) {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${b64url(sig)}`;
}

/** `token` with its payload replaced by `claims` and the original signature kept. */
export function swapPayload(token, claims) {
  const [h, , s] = token.split('.');
  return `${h}.${b64url(JSON.stringify(claims))}.${s}`;
}

/**
 * Starts a JWKS server on 127.0.0.1:0 serving `initialKeys` at /jwks.json (any path answers
 * the set). Returns {url, port, requests(), setKeys(keys), close()}: requests() counts the
 * requests served so far; setKeys() swaps the set (IdP rotation) for the next request.
 */
export async function startJwksServer(initialKeys) {
  let doc = JSON.stringify(jwks(initialKeys));
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(doc);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}/jwks.json`,
    requests: () => count,
    setKeys(keys) { doc = JSON.stringify(jwks(keys)); },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
