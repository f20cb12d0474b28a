/**
 * Signed bundles: an Ed25519 signature, as a DSSE envelope (the in-toto/sigstore envelope format),
 * over a statement of the sha256 of the bundle's metadata.json and manifest.json. The manifest
 * names every resource and image blob by sha256 and the reader checks each one against it, so
 * the statement covers every byte that is served. The envelope is an entry of its own
 * (`signature.dsse.json`): signing adds it and changes no byte it covers, so a signed and an
 * unsigned build of one definition differ by that entry only.
 *
 * Keys are identified by `keyid`: the first 16 hex digits of the sha256 of the public key's
 * SubjectPublicKeyInfo (DER). The id only finds a key; trust is the full key, and the signature
 * is checked with every trusted key of that id.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { RegistryError } from '../domain/errors.ts';

export const SIGNATURE_ENTRY = 'signature.dsse.json';
export const STATEMENT_TYPE = 'application/vnd.dcos.registry.bundle-statement.v1+json';
/** An envelope is a few hundred bytes; anything near this is not one. */
export const MAX_ENVELOPE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 8;

export interface BundleStatement {
  readonly package: { readonly name: string; readonly version: string };
  readonly metadataSha256: string;
  readonly manifestSha256: string;
}

export interface DsseEnvelope {
  readonly payloadType: string;
  /** base64 of the statement's JSON. */
  readonly payload: string;
  readonly signatures: readonly { readonly keyid: string; readonly sig: string }[];
}

/** What the signature covers, as its reader finds it in the bundle. */
export interface SignedContent {
  readonly name: string;
  readonly version: string;
  readonly metadataSha256: string;
  readonly manifestSha256: string;
}

export type SignatureFailure = 'BundleNotSigned' | 'SignatureInvalid' | 'SignerNotTrusted';

export class BundleSignatureError extends RegistryError {
  constructor(
    readonly reason: SignatureFailure,
    message: string,
    data: Record<string, unknown> = {},
  ) {
    super(reason, message, data);
    this.name = 'BundleSignatureError';
  }
}

/** DSSE's pre-authentication encoding: what is actually signed. */
function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function keyIdOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

/** `ed25519:<base64 of the SPKI DER>`: a public key on one line (REGISTRY_TRUSTED_KEYS, options). */
export function publicKeyLine(publicKey: KeyObject): string {
  return `ed25519:${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
}

export function newSigningKeyPair(): { privateKeyPem: string; publicKeyPem: string; keyId: string; line: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
    line: publicKeyLine(publicKey),
  };
}

/** A private key from PEM; refused unless Ed25519. */
export function signingKeyFrom(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new RegistryError('InvalidSigningKey', `The signing key is not a PEM private key: ${(error as Error).message}`, {});
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new RegistryError('InvalidSigningKey', `The signing key is ${key.asymmetricKeyType ?? 'not asymmetric'}; an Ed25519 key is needed (dcos-registry key create)`, {});
  return key;
}

/** A public key from PEM, or from its one-line form (`ed25519:<base64 DER>`); refused unless Ed25519. */
export function trustedKeyFrom(text: string): KeyObject {
  let key: KeyObject;
  try {
    key = text.startsWith('ed25519:') ? createPublicKey({ key: Buffer.from(text.slice('ed25519:'.length), 'base64'), format: 'der', type: 'spki' }) : createPublicKey(text);
  } catch (error) {
    throw new RegistryError('InvalidTrustedKey', `A trusted key is not a public key: ${(error as Error).message}`, {});
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new RegistryError('InvalidTrustedKey', `A trusted key is ${key.asymmetricKeyType ?? 'not asymmetric'}; only Ed25519 keys are accepted`, {});
  return key;
}

export function signBundle(privateKey: KeyObject, content: SignedContent): DsseEnvelope {
  const statement: BundleStatement = { package: { name: content.name, version: content.version }, metadataSha256: content.metadataSha256, manifestSha256: content.manifestSha256 };
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const signature = sign(null, pae(STATEMENT_TYPE, payload), privateKey);
  return { payloadType: STATEMENT_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: keyIdOf(createPublicKey(privateKey)), sig: signature.toString('base64') }] };
}

/** Canonical base64 only: Node's decoder ignores stray bits and characters, so one signature would have many spellings. */
const isCanonicalBase64 = (value: string): boolean => /^[A-Za-z0-9+/]*={0,2}$/.test(value) && Buffer.from(value, 'base64').toString('base64') === value;

/** The envelope's structure, checked strictly (it is attacker-controlled input). */
export function parseEnvelope(bytes: Uint8Array): DsseEnvelope {
  const invalid = (why: string): never => {
    throw new BundleSignatureError('SignatureInvalid', `The bundle's ${SIGNATURE_ENTRY} is not a valid signature envelope: ${why}`, {});
  };
  if (bytes.length > MAX_ENVELOPE_BYTES) invalid(`larger than ${MAX_ENVELOPE_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return invalid('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('not an object');
  const { payloadType, payload, signatures } = value as Record<string, unknown>;
  if (payloadType !== STATEMENT_TYPE) return invalid(`payloadType is not ${STATEMENT_TYPE}`);
  if (typeof payload !== 'string' || !isCanonicalBase64(payload)) return invalid('payload is not base64');
  if (!Array.isArray(signatures) || signatures.length === 0 || signatures.length > MAX_SIGNATURES) return invalid(`it needs 1 to ${MAX_SIGNATURES} signatures`);
  const parsed = signatures.map((entry: unknown) => {
    const { keyid, sig } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof keyid !== 'string' || !/^[0-9a-f]{16}$/.test(keyid)) return invalid('a keyid is not 16 hex digits');
    if (typeof sig !== 'string' || sig.length > 256 || !isCanonicalBase64(sig)) return invalid('a sig is not base64');
    return { keyid, sig };
  });
  return { payloadType, payload, signatures: parsed };
}

function statementOf(envelope: DsseEnvelope): BundleStatement {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
  } catch {
    throw new BundleSignatureError('SignatureInvalid', 'The signed statement is not JSON', {});
  }
  const statement = value as Partial<BundleStatement> | null;
  if (!statement || typeof statement.metadataSha256 !== 'string' || typeof statement.manifestSha256 !== 'string' || typeof statement.package?.name !== 'string' || typeof statement.package.version !== 'string') {
    throw new BundleSignatureError('SignatureInvalid', 'The signed statement does not name the package and its documents', {});
  }
  return statement as BundleStatement;
}

export interface SignatureCheck {
  /** The key id that signed it. */
  readonly keyId: string;
  /** Whether the signature was checked against a key (verify without --key checks only what it covers). */
  readonly verified: boolean;
}

/**
 * Checks a bundle's envelope (its bytes, or undefined when it has none) against what it must cover
 * and, given trusted keys, against them. Throws BundleNotSigned, SignatureInvalid or
 * SignerNotTrusted (with the key id).
 */
export function checkBundleSignature(
  envelopeBytes: Uint8Array | undefined,
  content: SignedContent,
  trustedKeys: readonly KeyObject[] | undefined,
  archive: { readonly canonicalFraming: boolean },
): SignatureCheck {
  if (envelopeBytes === undefined) throw new BundleSignatureError('BundleNotSigned', `Package [${content.name}] version [${content.version}] is not signed, and this registry accepts only signed bundles`, {});
  const envelope = parseEnvelope(envelopeBytes);
  // Only the bundle writer signs, and it writes every framing field one way: another value is a change after signing.
  if (!archive.canonicalFraming) throw new BundleSignatureError('SignatureInvalid', "The archive's ZIP framing was changed after signing (a field differs from what the bundle writer writes)", {});
  const statement = statementOf(envelope);
  const keyIds = envelope.signatures.map((signature) => signature.keyid);
  if (statement.metadataSha256 !== content.metadataSha256 || statement.manifestSha256 !== content.manifestSha256 || statement.package.name !== content.name || statement.package.version !== content.version) {
    throw new BundleSignatureError('SignatureInvalid', 'The signature does not cover this bundle: its metadata or manifest was changed after signing', { keyId: keyIds[0] });
  }
  if (trustedKeys === undefined) return { keyId: keyIds[0]!, verified: false };
  const signed = pae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  let knownSigner: string | undefined;
  for (const signature of envelope.signatures) {
    for (const key of trustedKeys) {
      if (keyIdOf(key) !== signature.keyid) continue;
      knownSigner = signature.keyid;
      if (verify(null, signed, key, Buffer.from(signature.sig, 'base64'))) return { keyId: signature.keyid, verified: true };
    }
  }
  if (knownSigner) throw new BundleSignatureError('SignatureInvalid', `The signature by key ${knownSigner} does not verify: the bundle was changed after signing, or the signature is forged`, { keyId: knownSigner });
  throw new BundleSignatureError('SignerNotTrusted', `The bundle is signed by key ${keyIds.join(', ')}, which this registry does not trust`, { keyId: keyIds[0] });
}
