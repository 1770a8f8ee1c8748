// What the language client needs of VS Code to start `codeassist lsp` in node: one workspace
// folder, the user's `codeassist.*` settings, and message boxes that record what they show.
// Everything else in `vscode` is inert (see vscodeStub.ts).
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { installVscodeStub, partialStub } from "./vscodeStub";

/** A `vscode.Uri` for a file path: what the client's converters read of one. */
function fileUri(fsPath: string) {
  return { scheme: "file", fsPath, path: fsPath, toString: () => pathToFileURL(fsPath).toString() };
}

function parseUri(value: string) {
  return value.startsWith("file:") ? fileUri(fileURLToPath(value)) : { scheme: value.split(":")[0], fsPath: "", path: "", toString: () => value };
}

/** What the editor showed the user: message boxes, in order. */
export interface Shown {
  kind: "error" | "warning" | "information";
  message: string;
}

/** Installs the `vscode` stub for one workspace folder and these `codeassist.*` settings. */
export function installEditorHost(workspaceRoot: string, settings: Record<string, unknown>, shown: Shown[]): void {
  const show = (kind: Shown["kind"]) => (message: string) => {
    shown.push({ kind, message });
    return Promise.resolve(undefined); // the user dismissed it
  };
  installVscodeStub("1.91.0", {
    env: partialStub({ appName: "Visual Studio Code", language: "en" }),
    Uri: partialStub({ file: fileUri, parse: parseUri }),
    workspace: partialStub({
      workspaceFolders: [{ uri: fileUri(workspaceRoot), name: path.basename(workspaceRoot), index: 0 }],
      textDocuments: [],
      notebookDocuments: [],
      getConfiguration: (section?: string) => ({
        get: (key: string) => (section === "codeassist" ? settings[key] : undefined),
      }),
    }),
    window: partialStub({
      visibleTextEditors: [],
      activeTextEditor: undefined,
      showErrorMessage: show("error"),
      showWarningMessage: show("warning"),
      showInformationMessage: show("information"),
    }),
  });
}
