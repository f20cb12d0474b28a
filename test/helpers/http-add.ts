/**
 * Adds a bundle over the management API exactly as the CLI does (create upload, PUT the bytes to
 * the presigned URL, complete), without a CLI process per add: storms run hundreds of them.
 */
export interface AddOutcome {
  readonly status: 'Accepted' | 'Rejected';
  readonly error?: { type: string; message: string } | null;
  readonly uploadId: string;
}

async function api<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; value: T }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, value: (text ? JSON.parse(text) : undefined) as T };
}

export async function httpAdd(base: string, token: string, bytes: Buffer, options: { timeoutMs?: number } = {}): Promise<AddOutcome> {
  const created = await api<{ uploadId: string; upload: { url: string; headers: Record<string, string> } }>(base, token, 'POST', '/v1/uploads', { size: bytes.length, fileName: 'storm.dcos' });
  if (created.status !== 201) throw new Error(`create upload: HTTP ${created.status} ${JSON.stringify(created.value)}`);
  const { uploadId, upload } = created.value;
  // The headers the ticket names are signed into the URL (S3 refuses the PUT without them).
  const put = await fetch(new URL(upload.url, base), { method: 'PUT', headers: upload.headers, body: bytes });
  if (!put.ok) throw new Error(`PUT: HTTP ${put.status} ${await put.text()}`);
  const completed = await api(base, token, 'POST', `/v1/uploads/${uploadId}/complete`);
  if (completed.status !== 202) throw new Error(`complete: HTTP ${completed.status} ${JSON.stringify(completed.value)}`);
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const record = await api<{ status: string; error: AddOutcome['error'] }>(base, token, 'GET', `/v1/uploads/${uploadId}`);
    if (record.value.status === 'Accepted' || record.value.status === 'Rejected') return { status: record.value.status, error: record.value.error, uploadId };
    if (Date.now() > deadline) throw new Error(`upload ${uploadId} still ${record.value.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function httpRemove(base: string, token: string, name: string, version: string): Promise<number> {
  return (await api(base, token, 'DELETE', `/v1/packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}`)).status;
}

export async function httpDescribe(base: string, token: string, name: string, version: string): Promise<{ status: number; value: { status?: string; contentDigest?: string } }> {
  return api(base, token, 'GET', `/v1/packages/${encodeURIComponent(name)}/${encodeURIComponent(version)}`);
}

export async function httpFsck(base: string, token: string, repair = false): Promise<{ clean: boolean; violations: { type: string; message: string }[] }> {
  return (await api<{ clean: boolean; violations: { type: string; message: string }[] }>(base, token, 'POST', '/v1/admin/fsck', { repair })).value;
}

/** Waits until no package of the registry is Processing or Removing. */
export async function httpSettled(base: string, token: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { value } = await api<{ packages: { status: string }[] }>(base, token, 'GET', '/v1/packages');
    if (!value.packages.some((pkg) => pkg.status === 'Processing' || pkg.status === 'Removing')) return;
    if (Date.now() > deadline) throw new Error('packages still Processing or Removing');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
