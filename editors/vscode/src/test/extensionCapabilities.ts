// The client capabilities the extension declares, computed by vscode-languageclient itself.
import type { ClientCapabilities } from "vscode-languageserver-protocol";

import { installVscodeStub } from "./vscodeStub";

/** What `initialize` carries when VS Code runs this extension's language client. */
export function extensionClientCapabilities(): ClientCapabilities {
  installVscodeStub();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createLanguageClient } = require("../client") as typeof import("../client");
  const output = {} as Parameters<typeof createLanguageClient>[1];
  const client = createLanguageClient(
    { kind: "found", command: "codeassist", args: ["lsp"], cwd: undefined, source: "test" },
    output,
  );
  return (client as unknown as { computeClientCapabilities(): ClientCapabilities }).computeClientCapabilities();
}
