/**
 * Long fuzz run of the identity parsers (not part of `npm test`):
 *   FUZZ_RUNS=20000 npx tsx test/identity/fuzz.ts
 * Every input must end in an IdentityError (never another exception or a hang); mutated
 * Azure envelopes may only ever yield the identity that was signed.
 */
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { checkAsn1Shape } from '../../src/identity/asn1-guard.js';
import { AwsVerifier } from '../../src/identity/aws.js';
import { AzureVerifier } from '../../src/identity/azure.js';
import { TrustAnchors } from '../../src/identity/chain.js';
import { IdentityError } from '../../src/identity/errors.js';
import { decodeStdBase64 } from '../../src/identity/fields.js';
import { ManualClock } from '../../src/util/clock.js';
import { awsStyleCert, makeCert, makeSignedData } from './pki.js';

const runs = Number(process.env.FUZZ_RUNS ?? 20_000);

function expectIdentityError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof IdentityError) return;
    throw err;
  }
  throw new Error('accepted fuzz input');
}

const signer = await awsStyleCert();
const aws = new AwsVerifier({ certificates: { r: signer.pem } });
const root = await makeCert({ cn: 'R', ca: true });
const inter = await makeCert({ cn: 'I', ca: true, issuer: root });
const leaf = await makeCert({ cn: 'metadata.azure.com', issuer: inter });
const valid = await makeSignedData({ content: Buffer.from('{"vmId":"v"}'), signer: leaf });
const azure = new AzureVerifier({
  clock: new ManualClock(Date.UTC(2026, 0, 1)),
  roots: new TrustAnchors([new X509Certificate(root.pem)]),
  intermediates: [inter.pem],
});

const started = Date.now();
fc.assert(
  fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
    try {
      checkAsn1Shape(bytes, 40);
    } catch (err) {
      if (!(err instanceof IdentityError)) throw err;
    }
  }),
  { numRuns: runs },
);
fc.assert(
  fc.property(fc.string({ maxLength: 512 }), (s) => {
    try {
      decodeStdBase64(s, 1024);
    } catch (err) {
      if (!(err instanceof IdentityError)) throw err;
    }
  }),
  { numRuns: runs },
);
fc.assert(
  fc.property(fc.json({ maxDepth: 4 }), fc.base64String({ maxLength: 400 }), (doc, sig) => expectIdentityError(() => aws.verify(doc, sig))),
  { numRuns: runs },
);
// Mutations of a valid envelope: flipped bytes, truncations, insertions.
await fc.assert(
  fc.asyncProperty(
    fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
    fc.nat(valid.length),
    async (flips, cut) => {
      const mutated = Buffer.from(valid.subarray(0, Math.max(cut, valid.length - 64)));
      for (const [at, x] of flips) if (at < mutated.length) mutated[at]! ^= x;
      // Either refused, or (a flip in an unsigned field) still exactly the signed identity.
      try {
        const id = await azure.verify(mutated.toString('base64'));
        if (id.vmId !== 'v') throw new Error(`mutation changed the identity to ${id.vmId}`);
      } catch (err) {
        if (!(err instanceof IdentityError)) throw err;
      }
    },
  ),
  { numRuns: Math.max(100, runs / 10) },
);
console.log(`identity fuzz: ${runs} runs per parser, ${Date.now() - started} ms`);
