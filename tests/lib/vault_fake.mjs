// A small fake of HashiCorp Vault's KV version 2 engine for the vault tests:
//   GET /v1/:mount/data/:path  (X-Vault-Token required; 403 on a missing or bad token,
//                               404 for an unknown path)
// answering as Vault does: {"data":{"data":{...},"metadata":{"version":N,...}}, ...}.
// set() writes a new version of a secret (that is how a test rotates a value).
import http from 'node:http';

/**
 * Starts the fake on 127.0.0.1:0. Options: token (required), mount (default "secret").
 * Returns { url, set(path, data), remove(path), requests(), seen(), stop() }: requests() is the
 * number of reads so far, seen() the X-Vault-Token / X-Vault-Namespace of each.
 */
export async function startVaultFake({ token, mount = 'secret' }) {
  const secrets = new Map();  // path -> {data, version}
  const seen = [];
  const prefix = `/v1/${mount}/data/`;
  const server = http.createServer((req, res) => {
    const send = (status, body) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json',
        'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    seen.push({ token: req.headers['x-vault-token'], namespace: req.headers['x-vault-namespace'],
      url: req.url });
    if (req.headers['x-vault-token'] !== token) {
      send(403, { errors: ['permission denied'] });
      return;
    }
    if (req.method !== 'GET' || !req.url.startsWith(prefix)) {
      send(404, { errors: [] });
      return;
    }
    const path = decodeURIComponent(req.url.slice(prefix.length).split('?')[0]);
    const secret = secrets.get(path);
    if (!secret) {
      send(404, { errors: [] });
      return;
    }
    send(200, {
      request_id: `req-${seen.length}`,
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: {
        data: secret.data,
        metadata: {
          created_time: new Date().toISOString(),
          custom_metadata: null,
          deletion_time: '',
          destroyed: false,
          version: secret.version,
        },
      },
      wrap_info: null,
      warnings: null,
      auth: null,
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    set(path, data) {
      const version = (secrets.get(path)?.version || 0) + 1;
      secrets.set(path, { data: { ...data }, version });
    },
    remove(path) { secrets.delete(path); },
    requests: () => seen.length,
    seen: () => seen.slice(),
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
