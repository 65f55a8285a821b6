// The page's Content-Security-Policy, in web mode (HTTP header, engine/host/webServer.ts)
// and in Electron (main sets it on the session and the app:// protocol): one string in
// common/ so the two cannot drift. No inline
// scripts, nothing from other origins; `connect-src 'self'` lets the page reach the
// engine WebSocket on its own host and port (CSP3 matches ws: for 'self').
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
