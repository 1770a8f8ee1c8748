// Command ids: the extension's own (palette) and the server's (workspace/executeCommand).

/** VS Code commands this extension contributes (see package.json). */
export const EXTENSION_COMMANDS = {
  reviewFile: "codeassist.review.currentFile",
  reviewSelection: "codeassist.review.selection",
  reviewUncommitted: "codeassist.review.uncommitted",
  reindex: "codeassist.workspace.reindex",
  restart: "codeassist.server.restart",
  showLog: "codeassist.server.showLog",
} as const;

/** Commands the language server runs through workspace/executeCommand. */
export const SERVER_COMMANDS = {
  reviewFile: "codeassist.reviewFile",
  reviewSelection: "codeassist.reviewSelection",
  reviewChanges: "codeassist.reviewChanges",
  reindex: "codeassist.reindex",
  rewrite: "codeassist.rewrite",
} as const;

/** An LSP range (0-based lines, UTF-16 characters). */
export interface LspRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

/** The executeCommand params for a palette command, or a message saying why it can't run. */
export function serverCommandFor(
  command: keyof typeof EXTENSION_COMMANDS,
  activeDocumentUri: string | undefined,
  workspaceUri: string | undefined,
  selection?: LspRange,
): { command: string; arguments: unknown[] } | { error: string } {
  switch (command) {
    case "reviewSelection": {
      if (activeDocumentUri === undefined) {
        return { error: "codeassist: open a file and select the code to review first." };
      }
      const empty =
        selection === undefined ||
        (selection.start.line === selection.end.line && selection.start.character === selection.end.character);
      if (empty) {
        return { error: "codeassist: select the code to review first (or run 'codeassist: Review File')." };
      }
      return { command: SERVER_COMMANDS.reviewSelection, arguments: [activeDocumentUri, selection] };
    }
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

const REVIEW_COMMANDS: ReadonlySet<string> = new Set([
  SERVER_COMMANDS.reviewFile,
  SERVER_COMMANDS.reviewSelection,
  SERVER_COMMANDS.reviewChanges,
]);

/** Whether a server command is a review (run with a cancellable notification). */
export function isReviewCommand(command: string): boolean {
  return REVIEW_COMMANDS.has(command);
}

/** The notification title for a review command and its arguments. */
export function reviewTitle(command: string, args: unknown[]): string {
  const name = typeof args[0] === "string" ? decodeURIComponent(args[0].split("/").pop() ?? "") : "";
  if (command === SERVER_COMMANDS.reviewSelection && name !== "") {
    const range = args[1] as Partial<LspRange> | undefined;
    const first = range?.start?.line;
    const last = range?.end?.line;
    const lines = typeof first === "number" && typeof last === "number" ? `:${first + 1}-${last + 1}` : "";
    return `codeassist: reviewing ${name}${lines}`;
  }
  if (command === SERVER_COMMANDS.reviewFile && name !== "") {
    return `codeassist: reviewing ${name}`;
  }
  return "codeassist: reviewing uncommitted changes";
}

/** What the user reads when a review finishes (the server answers {cancelled, findings, skipped}). */
export function reviewOutcome(answer: unknown): string | undefined {
  if (typeof answer !== "object" || answer === null) {
    return undefined;
  }
  const { cancelled, findings, skipped } = answer as { cancelled?: unknown; findings?: unknown; skipped?: unknown };
  if (cancelled === true) {
    return "codeassist: review cancelled.";
  }
  if (typeof findings !== "number") {
    return undefined;
  }
  const notReviewed = Array.isArray(skipped) ? skipped.filter((s): s is string => typeof s === "string") : [];
  const tail = notReviewed.length > 0 ? ` ${notReviewed.join("; ")}.` : "";
  if (findings === 0) {
    return `codeassist: review done, no findings.${tail}`;
  }
  return `codeassist: review done, ${findings} finding${findings === 1 ? "" : "s"} (see the Problems panel).${tail}`;
}

/** A review's progress text without the server's own title ("Reviewing a.py: ") repeated. */
export function reviewProgressText(title: string, message: string): string {
  const subject = title.replace(/^codeassist: reviewing /, "").toLowerCase();
  const repeated = `reviewing ${subject}: `;
  return message.toLowerCase().startsWith(repeated) ? message.slice(repeated.length) : message;
}
