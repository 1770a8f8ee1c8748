// Entry point: starts `codeassist lsp`, wires commands, settings and the status bar.
import * as fs from "fs";
import * as os from "os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  MessageType,
  ShowMessageNotification,
  ShowMessageParams,
  State,
} from "vscode-languageclient/node";

import { ClientHooks, CodeassistClient, createLanguageClient, currentSettings } from "./client";
import { EXTENSION_COMMANDS, LspRange, reviewOutcome, reviewProgressText, reviewTitle, serverCommandFor } from "./commands";
import { OncePerWindow, errorText } from "./failures";
import { LaunchSettings, LookupEnv, resolveServerCommand, sameLaunch } from "./serverOptions";
import { toServerSettings } from "./settings";
import { STATUS_NOTIFICATION, ServerState, ServerStatus, Task, stateFromNotification, statusView } from "./status";

let client: CodeassistClient | undefined;
let launched: LaunchSettings | undefined;
let output: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let missingNotified = false;
const once = new OncePerWindow();
/** Where the running review's notification takes its text from (server status messages). */
let reviewReport: ((message: string) => void) | undefined;

function isExecutableFile(candidate: string): boolean {
  try {
    const st = fs.statSync(candidate);
    if (!st.isFile()) {
      return false;
    }
    fs.accessSync(candidate, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function lookupEnv(): LookupEnv {
  return {
    pathVar: process.env.PATH,
    platform: process.platform,
    pathExt: process.env.PATHEXT,
    homeDir: os.homedir(),
    isExecutableFile,
  };
}

function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function showState(state: ServerState, message = "", percentage?: number, task?: Task): void {
  const view = statusView(state, message, percentage, task);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor = view.warning ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
  statusItem.show();
}

async function notifyMissing(message: string, installCommand: string): Promise<void> {
  output.error(message);
  if (missingNotified) {
    return;
  }
  missingNotified = true;
  const copy = "Copy Install Command";
  const open = "Open Settings";
  const picked = await vscode.window.showErrorMessage(message, copy, open);
  if (picked === copy) {
    await vscode.env.clipboard.writeText(installCommand);
  } else if (picked === open) {
    await vscode.commands.executeCommand("workbench.action.openSettings", "codeassist.executable");
  }
}

/** A message box, each distinct text once within a few seconds (server and client may both report one problem). */
function showMessage(type: MessageType, text: string): void {
  if (!once.admit(text)) {
    return;
  }
  if (type === MessageType.Error) {
    output.error(text);
    void vscode.window.showErrorMessage(text);
  } else if (type === MessageType.Warning) {
    output.warn(text);
    void vscode.window.showWarningMessage(text);
  } else {
    output.info(text);
    void vscode.window.showInformationMessage(text);
  }
}

/** A review as a cancellable notification: its text follows the server's progress. */
async function runReview(command: string, args: unknown[]): Promise<unknown> {
  const running = client;
  if (running === undefined || !running.isRunning()) {
    showMessage(MessageType.Warning, "codeassist: the language server is not running. Run 'codeassist: Restart Server' or see 'codeassist: Show Log'.");
    return undefined;
  }
  const title = reviewTitle(command, args);
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const began = Date.now();
      let last = "";
      const tick = setInterval(() => {
        const seconds = Math.round((Date.now() - began) / 1000);
        progress.report({ message: last === "" ? `${seconds}s` : `${last} (${seconds}s)` });
      }, 1000);
      reviewReport = (message) => {
        last = reviewProgressText(title, message);
        progress.report({ message: last });
      };
      try {
        const answer = await running.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token);
        const outcome = reviewOutcome(answer);
        if (outcome !== undefined) {
          vscode.window.setStatusBarMessage(outcome, 8000);
          output.info(outcome);
          if (outcome.includes("not reviewed:")) {
            showMessage(MessageType.Info, outcome); // the user should know what was left out
          }
        }
        return answer;
      } catch (error) {
        if (token.isCancellationRequested) {
          vscode.window.setStatusBarMessage("codeassist: review cancelled.", 5000);
          return undefined;
        }
        showMessage(MessageType.Error, `codeassist: ${errorText(error)}`);
        return undefined;
      } finally {
        clearInterval(tick);
        reviewReport = undefined;
      }
    },
  );
}

const hooks: ClientHooks = {
  runReview,
  showFailure: (message) => showMessage(MessageType.Error, message),
};

function onStatus(status: ServerStatus): void {
  showState(status.state, status.message, status.percentage, status.task);
  if (status.state === "generating" && status.task === "review" && status.message !== "") {
    reviewReport?.(status.message);
  }
}

async function startServer(): Promise<void> {
  const settings = currentSettings();
  launched = settings;
  const cmd = resolveServerCommand(settings, lookupEnv(), workspaceRoot());
  if (cmd.kind === "missing") {
    showState("not_installed", cmd.message);
    await notifyMissing(cmd.message, cmd.installCommand);
    return;
  }
  output.info(`starting ${cmd.command} ${cmd.args.join(" ")} (from ${cmd.source})`);
  const created = createLanguageClient(cmd, output, hooks);
  client = created;
  created.onDidChangeState((event) => {
    if (event.newState === State.Starting) {
      showState("starting");
    } else if (event.newState === State.Running) {
      showState("ready");
    } else {
      showState("stopped");
    }
  });
  created.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
    const status = stateFromNotification(params);
    if (status !== undefined) {
      onStatus(status);
    }
  });
  showState("starting");
  try {
    await created.start();
    // The server's own messages go through the same once-only display as the client's.
    created.onNotification(ShowMessageNotification.type, (params: ShowMessageParams) => showMessage(params.type, params.message));
  } catch (error) {
    const why = created.stderr.meaningful().join(" ") || errorText(error);
    output.error(`the language server did not start: ${why}`);
    showState("error", `The server did not start: ${why}`);
  }
}

async function stopServer(): Promise<void> {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    try {
      await running.stop();
    } catch (error) {
      output.warn(`stopping the server: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

async function restartServer(): Promise<void> {
  await stopServer();
  await startServer();
}

function activeSelection(): LspRange | undefined {
  const selection = vscode.window.activeTextEditor?.selection;
  if (selection === undefined) {
    return undefined;
  }
  return {
    start: { line: selection.start.line, character: selection.start.character },
    end: { line: selection.end.line, character: selection.end.character },
  };
}

async function runServerCommand(name: "reviewFile" | "reviewSelection" | "reviewUncommitted" | "reindex"): Promise<void> {
  const active = vscode.window.activeTextEditor?.document.uri.toString();
  const params = serverCommandFor(name, active, vscode.workspace.workspaceFolders?.[0]?.uri.toString(), activeSelection());
  if ("error" in params) {
    void vscode.window.showWarningMessage(params.error);
    return;
  }
  if (name !== "reindex") {
    await runReview(params.command, params.arguments);
    return;
  }
  if (client === undefined || !client.isRunning()) {
    showMessage(MessageType.Warning, "codeassist: the language server is not running. Run 'codeassist: Restart Server' or see 'codeassist: Show Log'.");
    return;
  }
  try {
    await client.sendRequest(ExecuteCommandRequest.type, params);
  } catch (error) {
    showMessage(MessageType.Error, `codeassist: ${errorText(error)}`);
  }
}

async function onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
  if (!event.affectsConfiguration("codeassist")) {
    return;
  }
  const settings = currentSettings();
  if (launched === undefined || !sameLaunch(settings, launched) || client === undefined) {
    missingNotified = false;
    await restartServer();
    return;
  }
  if (client.isRunning()) {
    await client.sendNotification(DidChangeConfigurationNotification.type, { settings: toServerSettings(settings) });
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("codeassist", { log: true });
  statusItem = vscode.window.createStatusBarItem("codeassist.status", vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "codeassist";
  statusItem.command = EXTENSION_COMMANDS.showLog;
  context.subscriptions.push(
    output,
    statusItem,
    vscode.commands.registerCommand(EXTENSION_COMMANDS.showLog, () => output.show(true)),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.restart, () => {
      missingNotified = false;
      return restartServer();
    }),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.reviewFile, () => runServerCommand("reviewFile")),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.reviewSelection, () => runServerCommand("reviewSelection")),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.reviewUncommitted, () => runServerCommand("reviewUncommitted")),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.reindex, () => runServerCommand("reindex")),
    vscode.workspace.onDidChangeConfiguration(onConfigurationChanged),
  );
  await startServer();
}

export async function deactivate(): Promise<void> {
  await stopServer();
}
