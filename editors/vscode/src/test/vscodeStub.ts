// Loads modules that import `vscode` outside VS Code: `vscode` resolves to an inert object.
// Used only to let vscode-languageclient compute the client capabilities the extension
// declares; nothing here pretends to be an editor.
import Module from "node:module";

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;

function inert(fixed: Record<string, unknown> = {}): unknown {
  const target = function () {
    return undefined;
  };
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(_t, prop) {
      if (prop === "then") {
        return undefined; // not a thenable
      }
      if (prop === Symbol.toPrimitive) {
        return () => "";
      }
      if (typeof prop === "string" && prop in fixed) {
        return fixed[prop];
      }
      if (!cache.has(prop)) {
        cache.set(prop, inert());
      }
      return cache.get(prop);
    },
    apply() {
      return inert();
    },
    construct() {
      return inert() as object;
    },
  });
}

let installed = false;

/** Makes `require("vscode")` return an inert module that reports this VS Code version. */
export function installVscodeStub(version = "1.91.0"): void {
  if (installed) {
    return;
  }
  installed = true;
  const stub = inert({ version });
  const mod = Module as unknown as { _load: Loader };
  const original = mod._load;
  mod._load = function (request: string, parent: unknown, isMain: boolean) {
    if (request === "vscode") {
      return stub;
    }
    return original.call(this, request, parent, isMain);
  };
}
