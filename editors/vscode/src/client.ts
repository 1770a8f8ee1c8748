// The language client: how `codeassist lsp` is started and what the client sends it.
import * as vscode from "vscode";
import * as readline from "node:readline";
import {
  CloseAction,
  CloseHandlerResult,
  ConfigurationParams,
  ErrorAction,
  ErrorHandlerResult,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";

import { isReviewCommand, rewriteNeedsInstruction } from "./commands";
import { StderrTail, failureMessage } from "./failures";
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

/** What the extension does for the client: review commands, and showing failures. */
export interface ClientHooks {
  /** Runs a review command (the extension shows it as a cancellable notification). */
  runReview: (command: string, args: unknown[]) => Promise<unknown>;
  /** Shows a failure to the user (once; the extension de-duplicates). */
  showFailure: (message: string) => void;
}

const NO_HOOKS: ClientHooks = {
  runReview: () => Promise.resolve(undefined),
  showFailure: () => undefined,
};

/** Restarts allowed within RESTART_WINDOW_MS after a running server stopped. */
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60_000;

/**
 * The language client with one voice for failures: every notification the library would
 * show (its "Request X failed." / "Server initialization failed ... -32097") becomes one
 * message with the error's own text, or the server's stderr when it stopped before it ran.
 */
export class CodeassistClient extends LanguageClient {
  readonly stderr = new StderrTail();
  everRan = false;
  hooks: ClientHooks = NO_HOOKS;

  override error(message: string, data?: unknown, showNotification: boolean | "force" = true): void {
    super.error(message, data, false);
    if (showNotification) {
      this.hooks.showFailure(failureMessage(message, data, !this.everRan, this.stderr.meaningful()));
    }
  }
}

/** Client options: every file, settings as initializationOptions, completion gated per language. */
export function clientOptionsFor(output: vscode.LogOutputChannel, hooks: ClientHooks = NO_HOOKS, client?: () => CodeassistClient | undefined): LanguageClientOptions {
  const restarts: number[] = [];
  return {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: output,
    traceOutputChannel: output,
    // The library's own pop-ups carry error codes; CodeassistClient.error shows failures instead.
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    stdioOptions: {
      stdout: (input, channel) => {
        readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (line) => channel.info(line));
      },
      stderr: (input, channel) => {
        readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (line) => {
          client?.()?.stderr.push(line);
          channel.error(line);
        });
      },
    },
    // A server that never ran (bad command line, missing module) is not restarted: the same
    // command would fail the same way. One that ran is restarted a few times.
    initializationFailedHandler: () => false,
    errorHandler: {
      error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
      closed: (): CloseHandlerResult => {
        const current = client?.();
        if (current === undefined || !current.everRan) {
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        const now = Date.now();
        restarts.push(now);
        while (restarts.length > 0 && now - restarts[0] > RESTART_WINDOW_MS) {
          restarts.shift();
        }
        if (restarts.length > MAX_RESTARTS) {
          const why = current.stderr.meaningful().join(" ");
          hooks.showFailure(
            `codeassist: the language server stopped ${restarts.length} times in 3 minutes and is not restarted${why ? `: ${why}` : ""}. Run 'codeassist: Restart Server' after fixing it; 'codeassist: Show Log' has the details.`,
          );
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        output.warn("the language server stopped; restarting it");
        return { action: CloseAction.Restart, handled: true };
      },
    },
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
        if (isReviewCommand(command)) {
          return hooks.runReview(command, args);
        }
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
export function createLanguageClient(cmd: ServerCommand, output: vscode.LogOutputChannel, hooks: ClientHooks = NO_HOOKS): CodeassistClient {
  const created: CodeassistClient = new CodeassistClient(CLIENT_ID, CLIENT_NAME, serverOptionsFor(cmd), clientOptionsFor(output, hooks, () => created));
  created.hooks = hooks;
  created.onDidChangeState((event) => {
    if (event.newState === State.Running) {
      created.everRan = true;
    }
  });
  return created;
}
