// The language client: how `codeassist lsp` is started and what the client sends it.
import * as vscode from "vscode";
import {
  ConfigurationParams,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

import { rewriteNeedsInstruction } from "./commands";
import type { ServerCommand } from "./serverOptions";
import { completionAllowed, readExtensionSettings, toServerSettings } from "./settings";

export const CLIENT_ID = "codeassist";
export const CLIENT_NAME = "codeassist";

/** The extension's settings, for a resource (language-specific values) or the window. */
export function currentSettings(scope?: vscode.ConfigurationScope) {
  const config = vscode.workspace.getConfiguration("codeassist", scope);
  return readExtensionSettings((key) => config.get(key));
}

/** Server options for a resolved command, over stdio. */
export function serverOptionsFor(cmd: ServerCommand): ServerOptions {
  return {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio,
    options: { cwd: cmd.cwd },
  };
}

function completionWanted(document: vscode.TextDocument): boolean {
  const languageConfig = vscode.workspace.getConfiguration("codeassist", {
    uri: document.uri,
    languageId: document.languageId,
  });
  const settings = currentSettings(document.uri);
  return completionAllowed(
    document.languageId,
    languageConfig.get<boolean>("completion.enable") !== false,
    settings.disabledLanguages,
  );
}

/** Client options: every file, settings as initializationOptions, completion gated per language. */
export function clientOptionsFor(output: vscode.LogOutputChannel): LanguageClientOptions {
  return {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: output,
    traceOutputChannel: output,
    initializationOptions: () => toServerSettings(currentSettings()),
    middleware: {
      provideInlineCompletionItems: (document, position, context, token, next) =>
        completionWanted(document) ? next(document, position, context, token) : undefined,
      // VS Code shows the suggestion as inline (ghost) text; the same suggestion as a
      // completion-list item (for editors without inline completion) would appear twice.
      provideCompletionItem: () => undefined,
      // "Rewrite with instruction..." arrives as codeassist.rewrite [uri, range]: ask for the
      // instruction, then send [uri, range, instruction].
      executeCommand: async (command, args, next) => {
        const extra = rewriteNeedsInstruction(command, args)
          ? await vscode.window.showInputBox({
              title: "codeassist: Rewrite with instruction",
              prompt: "What should change in the selected code?",
              placeHolder: "e.g. use pathlib instead of os.path",
              ignoreFocusOut: true,
            })
          : null;
        if (extra === undefined || (extra !== null && extra.trim() === "")) {
          return undefined; // cancelled
        }
        return next(command, extra === null ? args : [...args, extra]);
      },
      workspace: {
        configuration: (params: ConfigurationParams, token, next) => {
          const answers = params.items.map((item) => {
            if (item.section !== "codeassist") {
              return undefined;
            }
            const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
            return toServerSettings(currentSettings(scope));
          });
          if (answers.every((a) => a !== undefined)) {
            return answers;
          }
          return next(params, token);
        },
      },
    },
  };
}

/** A language client for `codeassist lsp` (not started). */
export function createLanguageClient(cmd: ServerCommand, output: vscode.LogOutputChannel): LanguageClient {
  return new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptionsFor(cmd), clientOptionsFor(output));
}
