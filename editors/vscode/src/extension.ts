// Entry point: starts `codeassist lsp`, wires commands, settings and the status bar.
import * as fs from "fs";
import * as os from "os";
import * as vscode from "vscode";
import { DidChangeConfigurationNotification, ExecuteCommandRequest, LanguageClient, State } from "vscode-languageclient/node";

import { createLanguageClient, currentSettings } from "./client";
import { EXTENSION_COMMANDS, serverCommandFor } from "./commands";
import { LaunchSettings, LookupEnv, resolveServerCommand, sameLaunch } from "./serverOptions";
import { toServerSettings } from "./settings";
import { STATUS_NOTIFICATION, ServerState, stateFromNotification, statusView } from "./status";

let client: LanguageClient | undefined;
let launched: LaunchSettings | undefined;
let output: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let missingNotified = false;

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

function showState(state: ServerState, message = ""): void {
  const view = statusView(state, message);
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
  const created = createLanguageClient(cmd, output);
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
      showState(status.state, status.message);
    }
  });
  showState("starting");
  try {
    await created.start();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    output.error(`the language server did not start: ${text}`);
    showState("error", `The server did not start: ${text}`);
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

async function runServerCommand(name: "reviewFile" | "reviewUncommitted" | "reindex"): Promise<void> {
  const active = vscode.window.activeTextEditor?.document.uri.toString();
  const params = serverCommandFor(name, active, vscode.workspace.workspaceFolders?.[0]?.uri.toString());
  if ("error" in params) {
    void vscode.window.showWarningMessage(params.error);
    return;
  }
  if (client === undefined || !client.isRunning()) {
    void vscode.window.showWarningMessage("codeassist: the language server is not running. Run 'codeassist: Restart Server' or see 'codeassist: Show Log'.");
    return;
  }
  try {
    await client.sendRequest(ExecuteCommandRequest.type, params);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    output.error(`${params.command} failed: ${text}`);
    void vscode.window.showErrorMessage(`codeassist: ${params.command} failed: ${text}`);
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
    vscode.commands.registerCommand(EXTENSION_COMMANDS.reviewUncommitted, () => runServerCommand("reviewUncommitted")),
    vscode.commands.registerCommand(EXTENSION_COMMANDS.reindex, () => runServerCommand("reindex")),
    vscode.workspace.onDidChangeConfiguration(onConfigurationChanged),
  );
  await startServer();
}

export async function deactivate(): Promise<void> {
  await stopServer();
}
