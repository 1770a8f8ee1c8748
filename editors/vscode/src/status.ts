// Server and daemon state -> what the status bar shows: pure functions, no VS Code API.

/** States the status bar can show. */
export type ServerState =
  | "starting"
  | "indexing"
  | "ready"
  | "model_loading"
  | "generating"
  | "model_unavailable"
  | "stopped"
  | "not_installed"
  | "error";

/** What a request in progress is for (the server's `task`). */
export type Task = "completion" | "review" | "refactor";

/** The server's `codeassist/status` notification (board contract 4). */
export interface StatusParams {
  state: string;
  message?: string;
  percentage?: number;
  task?: string;
}

/** A notification as the extension keeps it. */
export interface ServerStatus {
  state: ServerState;
  message: string;
  percentage?: number;
  task?: Task;
}

export const STATUS_NOTIFICATION = "codeassist/status";

/** What the status bar item shows for a state. */
export interface StatusView {
  text: string;
  tooltip: string;
  warning: boolean;
}

const SERVER_STATES: ReadonlySet<string> = new Set([
  "indexing",
  "ready",
  "model_loading",
  "generating",
  "model_unavailable",
  "error",
]);
const TASKS: ReadonlySet<string> = new Set(["completion", "review", "refactor"]);

/** The state a `codeassist/status` notification reports; unknown states are ignored. */
export function stateFromNotification(params: unknown): ServerStatus | undefined {
  if (typeof params !== "object" || params === null) {
    return undefined;
  }
  const { state, message, percentage, task } = params as Partial<StatusParams>;
  if (typeof state !== "string" || !SERVER_STATES.has(state)) {
    return undefined;
  }
  const status: ServerStatus = { state: state as ServerState, message: typeof message === "string" ? message : "" };
  if (typeof percentage === "number" && Number.isFinite(percentage)) {
    status.percentage = Math.max(0, Math.min(100, Math.round(percentage)));
  }
  if (typeof task === "string" && TASKS.has(task)) {
    status.task = task as Task;
  }
  return status;
}

const DOING: Record<Task, string> = { completion: "completing", review: "reviewing", refactor: "refactoring" };

/** The status bar text and tooltip for a state (and the server's message, if any). */
export function statusView(state: ServerState, message: string, percentage?: number, task?: Task): StatusView {
  const percent = percentage === undefined ? "" : ` ${percentage}%`;
  const detail = message.length > 0 ? `\n${message}` : "";
  const click = "\nClick to show the codeassist log.";
  switch (state) {
    case "starting":
      return { text: "$(sync~spin) codeassist", tooltip: `codeassist: starting the language server${detail}${click}`, warning: false };
    case "indexing":
      return { text: "$(sync~spin) codeassist: indexing", tooltip: `codeassist: indexing the repository${detail}${click}`, warning: false };
    case "ready":
      return { text: "$(check) codeassist", tooltip: `codeassist: ready${detail}${click}`, warning: false };
    case "model_loading":
      return { text: `$(loading~spin) codeassist: model loading${percent}`, tooltip: `codeassist: the model is loading${percent}${detail}${click}`, warning: false };
    case "generating": {
      const doing = task === undefined ? "generating" : DOING[task];
      return { text: `$(loading~spin) codeassist: ${doing}${percent}`, tooltip: `codeassist: the model is ${doing}${detail}${click}`, warning: false };
    }
    case "model_unavailable":
      return { text: "$(warning) codeassist: model unavailable", tooltip: `codeassist: the model endpoint is unavailable${detail}${click}`, warning: true };
    case "stopped":
      return { text: "$(circle-slash) codeassist: stopped", tooltip: `codeassist: the language server is not running${detail}${click}`, warning: true };
    case "not_installed":
      return { text: "$(warning) codeassist: not installed", tooltip: `codeassist: the codeassist executable was not found${detail}${click}`, warning: true };
    case "error":
      return { text: "$(error) codeassist: error", tooltip: `codeassist: the language server reported an error${detail}${click}`, warning: true };
  }
}
