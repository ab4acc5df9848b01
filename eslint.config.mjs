// Lint rules: the type-aware checks that catch real bugs in async code (floating and
// misused promises), unused code, and the recommended TypeScript set. Style is Prettier's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Fixtures are compiled by the specs under their own tsconfigs (both decorator modes, a consumer app).
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'var/**', 'spec/fixtures/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // Control characters are what the validators and the ANSI colour handling look for.
      'no-control-regex': 'off',
    },
  },
  {
    // Specs, benchmarks and examples handle decoded documents of any shape.
    files: ['spec/**', 'bench/**', 'examples/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
