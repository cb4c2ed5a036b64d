// Verifies tessera's access tokens the way a Node.js resource server would: through the
// server's JWKS with jose's remote key set, its cache on (jose's defaults: keys kept 10
// minutes, an unknown `kid` refetches at most once every 30 seconds).
//
// Usage: node verify_jose.mjs JWKS_URL ISSUER AUDIENCE ALGORITHM
// Reads one token per line on standard input and writes one JSON line per token:
// {"ok":true,"kid":"…"} or {"ok":false,"kid":"…","error":"…"}. A line "stats" answers with
// the number of key-set fetches made so far, {"fetches":N}.
import { createInterface } from 'node:readline';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from 'jose';

const [jwksUrl, issuer, audience, algorithm] = process.argv.slice(2);
if (!algorithm) {
  process.stderr.write('usage: node verify_jose.mjs JWKS_URL ISSUER AUDIENCE ALGORITHM\n');
  process.exit(2);
}

let fetches = 0;
const counting = async (url, options) => {
  fetches += 1;
  return fetch(url, options);
};
const keys = createRemoteJWKSet(new URL(jwksUrl), { [customFetch]: counting });

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  const token = line.trim();
  if (token === '') continue;
  if (token === 'stats') {
    process.stdout.write(`${JSON.stringify({ fetches })}\n`);
    continue;
  }
  let kid = null;
  try {
    kid = decodeProtectedHeader(token).kid ?? null;
    await jwtVerify(token, keys, { issuer, audience, algorithms: [algorithm], typ: 'at+jwt' });
    process.stdout.write(`${JSON.stringify({ ok: true, kid })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, kid, error: `${error.code ?? ''} ${error.message}` })}\n`);
  }
}
