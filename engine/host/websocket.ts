// Attaches one WebSocket connection to one engine worker (web mode). Frames follow the
// format in engine/protocol.ts (common/wire.ts). Every connection gets its own
// engine, restarted by its supervisor if it dies, and ended when the socket closes.

import type { WebSocket } from 'ws';
import type { ErrorReply } from '../protocol';
import { decodeFrame, encodeFrame } from '../../common/wire';
import { EngineSupervisor, type SupervisorOptions } from './supervisor';

/** Bigger frames are refused by ws itself (checkpoints arrive as bytes in web mode). */
export const MAX_FRAME_BYTES = 2 * 1024 ** 3 - 1;

export function attachWebSocket(ws: WebSocket, options: SupervisorOptions): EngineSupervisor {
  const engine = new EngineSupervisor(options);
  engine.onMessage((msg) => {
    if (ws.readyState !== ws.OPEN) return;
    const frame = encodeFrame(msg);
    ws.send(frame, { binary: typeof frame !== 'string' });
  });
  ws.on('message', (data, isBinary) => {
    let msg: unknown;
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
      msg = decodeFrame(isBinary ? bytes : bytes.toString('utf8'));
    } catch (err) {
      const reply: ErrorReply = {
        type: 'error', id: null, code: 'bad-request',
        message: `Malformed request: ${err instanceof Error ? err.message : String(err)}`,
        hint: 'The page and the engine disagree about the protocol; reload the page.',
      };
      ws.send(JSON.stringify(reply));
      return;
    }
    // Validation happens in the engine; here only the arrays are handed over without a copy.
    try {
      engine.postMessage(msg, buffersIn(msg));
    } catch (err) {
      // DataCloneError and the like: the message cannot reach the engine.
      const reply: ErrorReply = { type: 'error', id: null, code: 'bad-request', message: `Malformed request: ${err instanceof Error ? err.message : String(err)}` };
      ws.send(JSON.stringify(reply));
    }
  });
  ws.on('close', () => { void engine.close(); });
  return engine;
}

/** Every ArrayBuffer in a decoded message (decodeFrame made them fresh, so they may be moved). */
function buffersIn(msg: unknown, depth = 0, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (depth > 8 || typeof msg !== 'object' || msg === null) return out;
  if (msg instanceof ArrayBuffer) { if (!out.includes(msg)) out.push(msg); return out; }
  if (ArrayBuffer.isView(msg)) { const b = msg.buffer; if (b instanceof ArrayBuffer && !out.includes(b)) out.push(b); return out; }
  for (const v of Object.values(msg)) buffersIn(v, depth + 1, out);
  return out;
}
