// Signs a webhook body with a provider's official SDK and prints, as one JSON object, the HTTP
// headers a request carrying that body must send. Tests use it so that our verifier is checked
// against the providers' own signing code rather than against our reading of their docs.
//
// Usage:
//   node tests/signers/sign.mjs <stripe|standard> <secret> <body-file> [unix-seconds]
//   node tests/signers/sign.mjs square <signature-key> <body-file> <notification-url>
//
// The timestamp defaults to now. Square signs no timestamp but the notification URL, and its
// SDK only verifies: the mode computes the HMAC with node's crypto, then has the official
// `square` package's WebhooksHelper check it, and fails if the SDK refuses it. The SDKs take the payload as text, so the body file is read as
// UTF-8. The modules come from tools/node_modules: run scripts/node-tools.sh first.
// Exit codes: 0 with the headers on stdout; 64 on bad usage; 1 when the SDK fails.

import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../tools/package.json', import.meta.url));

function usage(problem) {
  process.stderr.write(`sign.mjs: ${problem}\n`);
  process.stderr.write('usage: node sign.mjs <stripe|standard> <secret> <body-file> [unix-seconds]\n');
  process.stderr.write('       node sign.mjs square <signature-key> <body-file> <notification-url>\n');
  process.exit(64);
}

// Stripe: `Stripe-Signature: t=...,v1=...` from the SDK's own test-header helper.
function stripe(secret, payload, timestamp) {
  const Stripe = require('stripe');
  // The API key is never used: signing makes no request.
  const client = new Stripe('sk_test_signer_only');
  const header = client.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  return { 'Stripe-Signature': header };
}

// Standard Webhooks: id, timestamp and signature headers from the reference library.
function standard(secret, payload, timestamp) {
  const { Webhook } = require('standardwebhooks');
  const id = `msg_${randomBytes(12).toString('hex')}`;
  const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), payload);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  };
}

// Square: base64 HMAC-SHA256 of the notification URL followed by the body, which the SDK must
// accept as Square's own signature.
async function square(signatureKey, payload, notificationUrl) {
  const { WebhooksHelper } = require('square');
  const signature = createHmac('sha256', signatureKey)
    .update(notificationUrl + payload)
    .digest('base64');
  const accepted = await WebhooksHelper.verifySignature({
    requestBody: payload,
    signatureHeader: signature,
    signatureKey,
    notificationUrl,
  });
  if (accepted !== true) {
    process.stderr.write('sign.mjs: the square SDK refused the signature\n');
    process.exit(1);
  }
  return { 'x-square-hmacsha256-signature': signature };
}

const signers = { stripe, standard };

async function main(argv) {
  const [scheme, secret, bodyFile, when] = argv;
  if (argv.length < 3 || argv.length > 4) {
    usage('expected three or four arguments');
  }
  if (scheme === 'square') {
    if (when === undefined) {
      usage('square needs the notification URL as its fourth argument');
    }
    const payload = readFileSync(bodyFile, 'utf8');
    const headers = await square(secret, payload, when);
    process.stdout.write(`${JSON.stringify(headers)}\n`);
    return;
  }
  const signer = signers[scheme];
  if (signer === undefined) {
    usage(`unknown scheme ${JSON.stringify(scheme)}`);
  }
  const timestamp = when === undefined ? Math.floor(Date.now() / 1000) : Number(when);
  if (!Number.isSafeInteger(timestamp) || timestamp <= 0) {
    usage('the timestamp must be a positive whole number of seconds');
  }

  const payload = readFileSync(bodyFile, 'utf8');
  const headers = signer(secret, payload, timestamp);
  process.stdout.write(`${JSON.stringify(headers)}\n`);
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`sign.mjs: ${error.message}\n`);
  process.exit(1);
});
