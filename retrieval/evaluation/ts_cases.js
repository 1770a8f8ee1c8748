// Eval cases for a TypeScript/JavaScript repository, resolved by the TypeScript compiler's
// type checker (independent of our tree-sitter retriever).
// usage: node ts_cases.js REPO PATH/TO/typescript.js N SEED  -> one JSON case per line
// Up to N cases of each group: "imported name" (calls of imported functions and classes,
// `ns.fn(`, `Class.staticMethod(`) and "member access" (`x.method(` through an object whose
// class or interface member is declared in another file).
"use strict";
const path = require("path");
const { execFileSync } = require("child_process");
const [repoArg, tsPath, nArg, seedArg] = process.argv.slice(2);
const ts = require(path.resolve(tsPath));
const root = path.resolve(repoArg);
const wanted = parseInt(nArg || "100", 10);
let seed = parseInt(seedArg || "0", 10) + 0x9e3779b9;
function rand() {
  // mulberry32
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
const files = execFileSync("git", ["ls-files", "-z"], { cwd: root })
  .toString()
  .split("\0")
  .filter((f) => /\.(ts|tsx|js|jsx|mjs|cjs)$/.test(f) && !f.endsWith(".d.ts"));
const program = ts.createProgram(
  files.map((f) => path.join(root, f)),
  { allowJs: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
    jsx: ts.JsxEmit.Preserve, types: [] },
);
const checker = program.getTypeChecker();
const rel = (f) => path.relative(root, f).split(path.sep).join("/");
const byFile = { "imported name": new Map(), "member access": new Map() };
const groupOf = (kind) => (kind === "member access" ? kind : "imported name");
const STATIC = ts.SymbolFlags.Class | ts.SymbolFlags.Module | ts.SymbolFlags.Enum;

// `Ns.f(` and `Class.f(`: the receiver names a module, namespace or class, not an object
function isStaticReceiver(expr) {
  let sym = checker.getSymbolAtLocation(expr);
  if (!sym) return false;
  if (sym.flags & ts.SymbolFlags.Alias) {
    try { sym = checker.getAliasedSymbol(sym); } catch (e) { return false; }
  }
  return (sym.flags & STATIC) !== 0 && !(sym.flags & ts.SymbolFlags.Variable);
}

function declSpan(decl) {
  let node = decl;
  if (ts.isVariableDeclaration(node) && node.parent && node.parent.parent &&
      ts.isVariableStatement(node.parent.parent)) node = node.parent.parent;
  const sf = decl.getSourceFile();
  const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const nameNode = decl.name || decl;
  const header = sf.getLineAndCharacterOfPosition(nameNode.getStart(sf)).line + 1;
  const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
  return { start, header, end };
}
const DECLS = new Set([
  ts.SyntaxKind.FunctionDeclaration, ts.SyntaxKind.MethodDeclaration, ts.SyntaxKind.ClassDeclaration,
  ts.SyntaxKind.VariableDeclaration, ts.SyntaxKind.MethodSignature, ts.SyntaxKind.PropertyDeclaration,
  ts.SyntaxKind.InterfaceDeclaration, ts.SyntaxKind.PropertySignature,
]);
const MEMBERS = new Set([
  ts.SyntaxKind.MethodDeclaration, ts.SyntaxKind.MethodSignature,
  ts.SyntaxKind.PropertyDeclaration, ts.SyntaxKind.PropertySignature,
]);

for (const f of files) {
  const sf = program.getSourceFile(path.join(root, f));
  if (!sf) continue;
  const cases = [];
  const visit = (node) => {
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const callee = node.expression;
      let nameNode = null, kind = "";
      if (ts.isIdentifier(callee)) { nameNode = callee; kind = ts.isNewExpression(node) ? "new" : "call"; }
      else if (ts.isPropertyAccessExpression(callee)) {
        nameNode = callee.name;
        kind = isStaticReceiver(callee.expression) ? "method" : "member access";
      }
      if (nameNode) {
        let sym = checker.getSymbolAtLocation(nameNode);
        if (sym && sym.flags & ts.SymbolFlags.Alias) {
          try { sym = checker.getAliasedSymbol(sym); } catch (e) { sym = null; }
        }
        const decl = sym && (sym.valueDeclaration || (sym.declarations || [])[0]);
        if (decl && kind === "member access" && !MEMBERS.has(decl.kind)) kind = "method";
        if (decl && DECLS.has(decl.kind)) {
          const dsf = decl.getSourceFile();
          const dpath = rel(dsf.fileName);
          if (!dpath.startsWith("..") && dpath !== f && !dpath.endsWith(".d.ts") && files.includes(dpath)) {
            const pos = sf.getLineAndCharacterOfPosition(nameNode.getStart(sf));
            const span = declSpan(decl);
            cases.push({
              path: f, line: pos.line + 1, col: pos.character, symbol: nameNode.text, kind,
              target: { path: dpath, name: nameNode.text, start_line: span.start,
                        header_line: span.header, end_line: span.end },
            });
          }
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  for (const c of cases) {
    const group = byFile[groupOf(c.kind)];
    if (!group.has(f)) group.set(f, []);
    group.get(f).push(c);
  }
}
for (const group of ["imported name", "member access"]) {
  const files = byFile[group];
  const out = [];
  for (const f of shuffle([...files.keys()].sort())) out.push(...shuffle(files.get(f)).slice(0, 3));
  for (const c of shuffle(out).slice(0, wanted)) console.log(JSON.stringify(c));
}
