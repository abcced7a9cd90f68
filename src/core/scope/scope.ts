import picomatch from 'picomatch';
import type { Config } from '../config/config-schema.js';
import type { ScopeViolation } from '../ledger/records.js';

/** Paths no proposal may ever touch, whatever the config says. */
export const ALWAYS_PROTECTED = ['.github/**'];

/** One changed path between a parent and a candidate commit (rename = delete old + add new). */
export interface FileChange {
  change: 'added' | 'modified' | 'deleted' | 'renamed';
  path: string;
  /** The path before a rename. */
  oldPath?: string;
}

export interface ScopeRules {
  edit: readonly string[];
  protect: readonly string[];
  /** The config file and the instructions file: protected like `.github/**`. */
  alwaysProtect: readonly string[];
}

/** The scope of a config: its `edit` and `protect` lists, with the config file and instructions always protected. */
export function scopeRules(config: Config, configFile: string): ScopeRules {
  return { edit: config.scope.edit, protect: config.scope.protect, alwaysProtect: [configFile, config.proposer.instructions] };
}

/** Every protected pattern of a scope, the built-in ones included. */
export function protectedPatterns(rules: ScopeRules): string[] {
  return [...ALWAYS_PROTECTED, ...rules.alwaysProtect, ...rules.protect];
}

/** A matcher of repository paths (dotfiles included): the first of `patterns` that matches, or undefined. */
export function pathMatcher(patterns: readonly string[]): (path: string) => string | undefined {
  const compiled = patterns.map((pattern) => ({ pattern, test: picomatch(pattern, { dot: true }) }));
  return (path) => compiled.find((entry) => entry.test(path))?.pattern;
}

/**
 * Why no proposal may change a path, whatever the scope says, or undefined. A `.gitattributes` file
 * decides how git checks out, diffs and stores every file below it (filters, conversions): a candidate
 * that brings its own would change how both sides are checked out, not what they compute.
 */
export function unsafePath(path: string): string | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return name === '.gitattributes' ? 'a .gitattributes file changes how git checks out and stores files' : undefined;
}

/**
 * The paths of a proposal that leave its scope: anything outside `edit`, or inside `protect`
 * and the always-protected paths, or a `.gitattributes` file anywhere ({@link unsafePath}). A rename
 * is checked at both its old and its new path. Symlinks and gitlinks, which need the tree's modes,
 * are checked by `checkTreeEntries` (tree-safety.ts).
 */
export function checkScope(changes: readonly FileChange[], rules: ScopeRules): ScopeViolation[] {
  const protectedBy = pathMatcher(protectedPatterns(rules));
  const editableBy = pathMatcher(rules.edit);
  const violations: ScopeViolation[] = [];
  for (const change of changes) {
    const paths = change.oldPath && change.oldPath !== change.path ? [change.oldPath, change.path] : [change.path];
    for (const path of paths) {
      const protectedPattern = protectedBy(path);
      const unsafe = unsafePath(path);
      if (protectedPattern) {
        violations.push({ path, change: change.change, rule: 'protected', pattern: protectedPattern });
      } else if (unsafe) {
        violations.push({ path, change: change.change, rule: 'unsafe', pattern: unsafe });
      } else if (!editableBy(path)) {
        violations.push({ path, change: change.change, rule: 'outside-edit', pattern: rules.edit.join(', ') });
      }
    }
  }
  return violations;
}

/** One line per violation, for the ledger and the terminal. */
export function describeViolations(violations: readonly ScopeViolation[]): string {
  return violations
    .map((v) =>
      v.rule === 'protected'
        ? `${v.path} (${v.change}) is protected by ${v.pattern}`
        : v.rule === 'unsafe'
          ? `${v.path} (${v.change}) is not allowed: ${v.pattern}`
          : `${v.path} (${v.change}) is outside scope.edit (${v.pattern})`,
    )
    .join('; ');
}
