import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function messagesFor(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${file}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('layering lint (DESIGN.md)', () => {
  it('refuses a renderer value import from the engine', async () => {
    const msgs = await messagesFor('renderer/bad.ts', "import { runSession } from '../engine/session';\nexport const x = runSession;\n");
    expect(msgs.some((m) => m.includes('renderer/ may import only engine/protocol.ts'))).toBe(true);
  });
  it('refuses a renderer value import even from engine/protocol', async () => {
    const msgs = await messagesFor('renderer/bad.ts', "import { validateMessage } from '../engine/protocol';\nexport const x = validateMessage;\n");
    expect(msgs.some((m) => m.includes('only types from engine/'))).toBe(true);
  });
  it('allows a renderer type import from engine/protocol', async () => {
    const msgs = await messagesFor('renderer/ok.ts', "import type { EngineMessage } from '../engine/protocol';\nexport type X = EngineMessage;\n");
    expect(msgs).toEqual([]);
  });
  it('refuses renderer importing main or electron', async () => {
    const a = await messagesFor('renderer/bad.ts', "import { x } from '../main/menu';\nexport const y = x;\n");
    const b = await messagesFor('renderer/bad.ts', "import { ipcRenderer } from 'electron';\nexport const y = ipcRenderer;\n");
    expect(a.some((m) => m.includes('must not import main/'))).toBe(true);
    expect(b.some((m) => m.includes('must not import electron'))).toBe(true);
  });
  it('refuses the engine importing electron, main or renderer', async () => {
    const a = await messagesFor('engine/bad.ts', "import { app } from 'electron';\nexport const y = app;\n");
    const b = await messagesFor('engine/bad.ts', "import { x } from '../main/menu';\nexport const y = x;\n");
    const c = await messagesFor('engine/bad.ts', "import { x } from '../renderer/App';\nexport const y = x;\n");
    expect(a.some((m) => m.includes('never imports electron'))).toBe(true);
    expect(b.some((m) => m.includes('must not import main/'))).toBe(true);
    expect(c.some((m) => m.includes('must not import renderer/'))).toBe(true);
  });
  it('refuses main importing engine values but allows engine types', async () => {
    const bad = await messagesFor('main/bad.ts', "import { openSession } from '../engine/session';\nexport const y = openSession;\n");
    const ok = await messagesFor('main/ok.ts', "import type { EngineMessage } from '../engine/protocol';\nexport type X = EngineMessage;\n");
    expect(bad.some((m) => m.includes('only types from engine/'))).toBe(true);
    expect(ok).toEqual([]);
  });
  it('keeps common/ free of the layers and of Node', async () => {
    const a = await messagesFor('common/bad.ts', "import { x } from '../engine/session';\nexport const y = x;\n");
    const b = await messagesFor('common/bad.ts', "import { readFileSync } from 'node:fs';\nexport const y = readFileSync;\n");
    const ok = await messagesFor('renderer/ok.ts', "import { encodeFrame } from '../common/wire';\nexport const y = encodeFrame;\n");
    expect(a.some((m) => m.includes('common/ must not import'))).toBe(true);
    expect(b.some((m) => m.includes('platform-free'))).toBe(true);
    expect(ok).toEqual([]);
  });
});
