// ESLint flat config: type-aware rules for promises and type imports; workflow code may import only
// what runs in Temporal's deterministic sandbox.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

/** Every Node built-in by its bare name (`fs`, `fs/promises`, `crypto`, …); `node:` names are a pattern below. */
const NODE_BUILTINS = builtinModules.filter((name) => !name.startsWith('_'));
const NO_NODE_BUILTINS = 'No Node built-ins in workflow code: it runs in a deterministic sandbox (I/O belongs in an activity).';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.trainset/**', 'test/histories/**', 'bin/**', '*.config.*'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/explicit-module-boundary-types': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins, nothing that reaches them.
    // It imports @temporalio/workflow and @temporalio/common, sibling workflow modules, src/shared, and `import type`
    // of activities (to type its proxies). test/unit/workflow-lint.test.ts plants one bad import per rule below.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off', // the typescript-eslint rule below extends it with allowTypeImports
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.map((name) => ({ name, message: NO_NODE_BUILTINS })),
          patterns: [
            { regex: '^node:', message: NO_NODE_BUILTINS },
            {
              regex: '^(\\.\\./)+activities(/|$)',
              allowTypeImports: true,
              message:
                'Workflows may only `import type` from src/activities (activities run on workers, called through activity-proxies.ts).',
            },
            {
              regex: '^(\\.\\./)+(storage|registry|workers)(/|$)',
              message: 'Workflow code does no I/O: src/storage, src/registry and src/workers belong to activities and worker processes.',
            },
            {
              // Any depth of `../` (a module in a subfolder reaching src/shared is fine).
              regex: '^(\\.\\./)+(?!\\.\\./|(shared|activities|storage|registry|workers)(/|$))',
              message: 'Workflow code imports only sibling workflow modules and src/shared (move a pure helper into one of them).',
            },
            {
              regex: `^(?!@temporalio/(workflow|common)$|\\.\\.?/|node:|(${NODE_BUILTINS.join('|')})$)`,
              message: 'Workflow code imports no packages but @temporalio/workflow and @temporalio/common.',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression', message: 'No dynamic import() in workflow code: the bundle must hold everything it runs.' },
      ],
    },
  },
);
