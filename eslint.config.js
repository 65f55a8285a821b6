// Lint, with DESIGN.md's layering as rules: renderer -> (types of engine/protocol only),
// main -> (types of engine only), engine -> nothing of electron, main or renderer;
// every layer may use common/, which itself imports none of them.
import tseslint from 'typescript-eslint';

const engineValueImport = {
  group: ['**/engine', '**/engine/**'],
  allowTypeImports: true,
  message: 'main/ and renderer/ may import only types from engine/ (DESIGN.md layering).',
};

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'out/**', 'test-results/**', 'bench/results/**', '.gpu/**', 'tmp/**', 'tools/data/**', '**/*.cjs'],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'renderer/ must not import electron: use the engine client (DESIGN.md).' }],
        patterns: [
          { group: ['**/main', '**/main/**'], message: 'renderer/ must not import main/ (DESIGN.md layering).' },
          {
            group: ['**/engine/**', '!**/engine/protocol', '!**/engine/protocol.ts'],
            message: 'renderer/ may import only engine/protocol.ts (types) (DESIGN.md layering).',
          },
          { group: ['node:*', 'fs', 'path', 'child_process', 'sharp', '@tensorflow/*'], message: 'renderer/ runs in a sandboxed page: no Node or engine packages.' },
        ],
      }],
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [engineValueImport] }],
    },
  },
  {
    files: ['main/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/renderer', '**/renderer/**'], message: 'main/ must not import renderer/ (DESIGN.md layering).' }],
      }],
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [engineValueImport] }],
    },
  },
  {
    // common/: pure code both ends of a process boundary run (wire format, CSP, MIME types, byte buffers). It
    // imports nothing from the layers and nothing platform-specific.
    files: ['common/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'common/ is platform-free: no electron.' }],
        patterns: [
          { group: ['**/engine', '**/engine/**', '**/main', '**/main/**', '**/renderer', '**/renderer/**'], message: 'common/ must not import engine/, main/ or renderer/ (DESIGN.md layering).' },
          { group: ['node:*', 'fs', 'path', 'sharp', '@tensorflow/*', 'react'], message: 'common/ is platform-free: no Node, engine or UI packages.' },
        ],
      }],
    },
  },
  {
    files: ['engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'engine/ never imports electron: it runs in plain Node too (DESIGN.md).' }],
        patterns: [
          { group: ['**/main', '**/main/**'], message: 'engine/ must not import main/ (DESIGN.md layering).' },
          { group: ['**/renderer', '**/renderer/**'], message: 'engine/ must not import renderer/ (DESIGN.md layering).' },
        ],
      }],
    },
  },
);
