import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appProtocolHandler, isAppUrl } from '../../../main/appProtocol';
import { CONTENT_SECURITY_POLICY } from '../../../common/csp';

describe('app:// protocol (the renderer in Electron)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-app-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>AttnScope</title>');
  writeFileSync(join(dir, 'main.js'), 'export {}');
  const handle = appProtocolHandler(dir);

  it('serves the renderer files with their MIME type and the CSP', async () => {
    const page = await handle({ url: 'app://attnscope/index.html' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await page.text()).toContain('AttnScope');
    expect((await handle({ url: 'app://attnscope/main.js' })).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await handle({ url: 'app://attnscope/' })).status).toBe(200);
  });

  it('refuses other hosts, traversal, missing files and non-GET', async () => {
    expect((await handle({ url: 'app://other/index.html' })).status).toBe(403);
    for (const url of ['app://attnscope/../../etc/passwd', 'app://attnscope/%2e%2e/%2e%2e/etc/passwd', 'app://attnscope/..%2f..%2fetc%2fpasswd', 'app://attnscope/nope.js', 'app://attnscope/%00']) {
      expect([400, 404]).toContain((await handle({ url })).status);
    }
    expect((await handle({ url: 'app://attnscope/index.html', method: 'POST' })).status).toBe(403);
    expect(isAppUrl('app://attnscope/x')).toBe(true);
    expect(isAppUrl('file:///x')).toBe(false);
    expect(isAppUrl('not a url')).toBe(false);
  });
});
