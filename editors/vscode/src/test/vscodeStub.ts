// Loads modules that import `vscode` outside VS Code: `vscode` resolves to an inert object,
// except for the few values a test sets (the VS Code version, the settings, the workspace
// folder, what message boxes record). It lets vscode-languageclient run its own code (client
// capabilities, spawning the server, the protocol) in node; nothing here draws an editor.
import Module from "node:module";

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;

/** An object whose listed properties are real and whose others are inert (callable, no-op). */
export function partialStub(fixed: Record<string, unknown> = {}): unknown {
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
      if (prop === Symbol.iterator) {
        return function* () {}; // iterates as empty
      }
      if (typeof prop === "string" && prop in fixed) {
        return fixed[prop];
      }
      if (!cache.has(prop)) {
        cache.set(prop, partialStub());
      }
      return cache.get(prop);
    },
    apply() {
      return partialStub();
    },
    construct() {
      return partialStub() as object;
    },
  });
}

let installed = false;

/**
 * Makes `require("vscode")` return a stub that reports this VS Code version.
 *
 * `fixed` sets real top-level members (e.g. `workspace: partialStub({...})`); the first call
 * wins, since node caches what a module required.
 */
export function installVscodeStub(version = "1.91.0", fixed: Record<string, unknown> = {}): void {
  if (installed) {
    return;
  }
  installed = true;
  const stub = partialStub({ version, ...fixed });
  const mod = Module as unknown as { _load: Loader };
  const original = mod._load;
  mod._load = function (request: string, parent: unknown, isMain: boolean) {
    if (request === "vscode") {
      return stub;
    }
    return original.call(this, request, parent, isMain);
  };
}
