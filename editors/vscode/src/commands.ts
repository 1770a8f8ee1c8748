// Command ids: the extension's own (palette) and the server's (workspace/executeCommand).

/** VS Code commands this extension contributes (see package.json). */
export const EXTENSION_COMMANDS = {
  reviewFile: "codeassist.review.currentFile",
  reviewUncommitted: "codeassist.review.uncommitted",
  reindex: "codeassist.workspace.reindex",
  restart: "codeassist.server.restart",
  showLog: "codeassist.server.showLog",
} as const;

/** Commands the language server runs through workspace/executeCommand. */
export const SERVER_COMMANDS = {
  reviewFile: "codeassist.reviewFile",
  reviewChanges: "codeassist.reviewChanges",
  reindex: "codeassist.reindex",
  rewrite: "codeassist.rewrite",
} as const;

/** The executeCommand params for a palette command, or a message saying why it can't run. */
export function serverCommandFor(
  command: keyof typeof EXTENSION_COMMANDS,
  activeDocumentUri: string | undefined,
  workspaceUri: string | undefined,
): { command: string; arguments: unknown[] } | { error: string } {
  switch (command) {
    case "reviewFile":
      if (activeDocumentUri === undefined) {
        return { error: "codeassist: open a file to review first." };
      }
      return { command: SERVER_COMMANDS.reviewFile, arguments: [activeDocumentUri] };
    case "reviewUncommitted":
      return {
        command: SERVER_COMMANDS.reviewChanges,
        arguments: workspaceUri === undefined ? [] : [workspaceUri],
      };
    case "reindex":
      return { command: SERVER_COMMANDS.reindex, arguments: [] };
    default:
      return { error: `codeassist: '${command}' is not a server command.` };
  }
}

/** Whether an executeCommand is the rewrite refactor still missing its instruction. */
export function rewriteNeedsInstruction(command: string, args: unknown[]): boolean {
  return command === SERVER_COMMANDS.rewrite && args.length < 3;
}
