import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Language, Parser, type Node as SyntaxNode } from 'web-tree-sitter';
import { INFRA_DIR } from './bicepSource';

/**
 * Every .bicep file in infra/ parses with the tree-sitter-bicep grammar (its WebAssembly build,
 * run by web-tree-sitter: no native addon to compile). A syntax error anywhere shows up as an
 * ERROR or MISSING node, reported with its line and column.
 */
const GRAMMAR = require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm');

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.bicep'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function syntaxProblems(root: SyntaxNode): string[] {
  const problems: string[] = [];
  const visit = (node: SyntaxNode) => {
    if (node.isError || node.isMissing) {
      problems.push(`${node.isMissing ? `missing ${node.type}` : 'syntax error'} at ${node.startPosition.row + 1}:${node.startPosition.column + 1}`);
    }
    if (node.hasError) for (const child of node.children) if (child) visit(child);
  };
  visit(root);
  return problems;
}

describe('infra/*.bicep parse with tree-sitter-bicep', () => {
  let parser: Parser;
  beforeAll(async () => {
    await Parser.init();
    parser = new Parser();
    // Bytes, not a path: loading by path makes web-tree-sitter import node:fs dynamically.
    parser.setLanguage(await Language.load(new Uint8Array(readFileSync(GRAMMAR))));
  });
  afterAll(() => parser?.delete());

  const files = bicepFiles(INFRA_DIR);

  it('finds main.bicep and its modules', () => {
    expect(files.map((f) => relative(INFRA_DIR, f))).toEqual(expect.arrayContaining(['main.bicep', 'modules/cosmos.bicep', 'modules/serviceBus.bicep', 'modules/keyVault.bicep']));
  });

  it.each(files.map((f) => [relative(INFRA_DIR, f), f]))('%s has no syntax errors', (_name, file) => {
    const tree = parser.parse(readFileSync(file, 'utf8'));
    expect(tree).not.toBeNull();
    expect(syntaxProblems(tree!.rootNode)).toEqual([]);
    expect(tree!.rootNode.namedChildCount).toBeGreaterThan(0);
    tree!.delete();
  });

  it('reports a broken template (the check can fail)', () => {
    const broken = "param location string\nresource sb 'Microsoft.ServiceBus/namespaces@2024-01-01' = {\n  name: 'x'\n  properties: { \n}\n";
    const tree = parser.parse(broken)!;
    expect(syntaxProblems(tree.rootNode).length).toBeGreaterThan(0);
    tree.delete();
  });

  it('sees the module declarations main.bicep wires together', () => {
    const tree = parser.parse(readFileSync(join(INFRA_DIR, 'main.bicep'), 'utf8'))!;
    const modules = tree.rootNode.descendantsOfType('module_declaration');
    expect(modules.length).toBeGreaterThanOrEqual(8);
    tree.delete();
  });
});
