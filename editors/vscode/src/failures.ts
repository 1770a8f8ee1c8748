// What the user reads when something fails: pure functions, no VS Code API.

/** The server's last stderr lines, kept to explain a server that stopped. */
export class StderrTail {
  private lines: string[] = [];

  constructor(private readonly keep = 40) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.keep) {
      this.lines.shift();
    }
  }

  clear(): void {
    this.lines = [];
  }

  /** The lines that say something: no box drawing, usage banners or blank lines. */
  meaningful(max = 6): string[] {
    const kept = this.lines
      .map((line) => line.replace(/[\u2500-\u257f]/g, "").trim())
      .filter((line) => line.length > 0 && !/^(Usage:|Try '.*--help')/.test(line));
    return kept.slice(-max);
  }
}

/** The human text of an error: a JSON-RPC error's message without its code or wrapping. */
export function errorText(error: unknown): string {
  let text: string;
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    text = (error as { message: string }).message;
  } else {
    text = String(error);
  }
  // "Request workspace/executeCommand failed with message: X" -> "X"; "-32803: X" -> "X".
  text = text.replace(/^Request \S+ failed with message: /, "").replace(/^-?\d{4,5}: /, "");
  return text.replace(/^codeassist: /, "").trim();
}

/**
 * The one message for a failure the language client reports (message + its data).
 *
 * A server that stopped before it ever ran is explained by its own stderr (e.g. a rejected
 * command line), not by the protocol error that followed ("Pending response rejected").
 */
export function failureMessage(clientMessage: string, data: unknown, neverStarted: boolean, stderr: string[]): string {
  if (neverStarted && stderr.length > 0) {
    return `codeassist: the language server stopped before it started: ${stderr.join(" ")} (see 'codeassist: Show Log').`;
  }
  if (data !== undefined && data !== null && errorText(data).length > 0) {
    return `codeassist: ${errorText(data)}`;
  }
  return `codeassist: ${errorText(clientMessage)}`;
}

/** Shows each distinct message once within `windowMs`, however many paths report it. */
export class OncePerWindow {
  private shown = new Map<string, number>();

  constructor(
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True if `text` should be shown now (and records it). */
  admit(text: string): boolean {
    const key = text.replace(/^codeassist: /, "");
    const at = this.now();
    const last = this.shown.get(key);
    if (last !== undefined && at - last < this.windowMs) {
      return false;
    }
    this.shown.set(key, at);
    return true;
  }
}
