// The page's Content-Security-Policy (Electron: set on the session for every response).
// The web server sends the same string (engine/host/csp.ts; main may not import engine
// values, so test/unit/main/csp.test.ts checks the two are equal). No inline
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
