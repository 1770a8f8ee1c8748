// VS Code settings -> the server's settings (config.toml shape): pure functions, no VS Code API.
import type { LaunchSettings } from "./serverOptions";

/** Everything the extension reads from `codeassist.*`. */
export interface ExtensionSettings extends LaunchSettings {
  modelEndpoint: string;
  modelPath: string;
  completionEnable: boolean;
  disabledLanguages: string[];
  completionBudgetTokens: number | null;
  completionMaxTokens: number | null;
  debounceMs: number | null;
  reviewBudgetTokens: number | null;
  refactorBudgetTokens: number | null;
  trace: "off" | "messages" | "verbose";
}

/** The server's settings, as `config.toml` sections; only keys the user set are present. */
export type ServerSettings = Record<string, Record<string, string | number | string[]>>;

/** Reads one `codeassist.*` key; `get("model.endpoint")` is `codeassist.model.endpoint`. */
export type SettingGetter = (key: string) => unknown;

function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function asStringList(value: unknown): string[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter((v): v is string => typeof v === "string").map((v) => v.trim()).filter((v) => v.length > 0);
}

function asCount(value: unknown): number | null {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    return null;
  }
  return Math.floor(value);
}

function asTrace(value: unknown): ExtensionSettings["trace"] {
  return value === "messages" || value === "verbose" ? value : "off";
}

/** The extension's settings from a getter; wrong types fall back to "not set". */
export function readExtensionSettings(get: SettingGetter): ExtensionSettings {
  return {
    executable: asString(get("executable")),
    pythonPath: asString(get("pythonPath")),
    serverArgs: asStringList(get("serverArgs")),
    modelEndpoint: asString(get("model.endpoint")).trim(),
    modelPath: asString(get("model.path")).trim(),
    completionEnable: get("completion.enable") !== false,
    disabledLanguages: asStringList(get("completion.disabledLanguages")),
    completionBudgetTokens: asCount(get("completion.budgetTokens")),
    completionMaxTokens: asCount(get("completion.maxTokens")),
    debounceMs: asCount(get("completion.debounceMs")),
    reviewBudgetTokens: asCount(get("review.budgetTokens")),
    refactorBudgetTokens: asCount(get("refactor.budgetTokens")),
    trace: asTrace(get("trace.server")),
  };
}

/**
 * The server's settings for initializationOptions and workspace/didChangeConfiguration.
 *
 * Unset values are left out, so that codeassist's own config files (user and repository)
 * keep deciding them.
 */
export function toServerSettings(s: ExtensionSettings): ServerSettings {
  const out: ServerSettings = {};
  const put = (section: string, key: string, value: string | number | string[] | null): void => {
    if (value === null || value === "") {
      return;
    }
    out[section] = out[section] ?? {};
    out[section][key] = value;
  };
  put("model", "endpoint", s.modelEndpoint);
  put("model", "path", s.modelPath);
  put("completion", "budget_tokens", s.completionBudgetTokens);
  put("completion", "max_tokens", s.completionMaxTokens === 0 ? null : s.completionMaxTokens);
  put("completion", "debounce_ms", s.debounceMs);
  put("completion", "disabled_languages", s.disabledLanguages.length > 0 ? s.disabledLanguages : null);
  put("review", "budget_tokens", s.reviewBudgetTokens);
  put("refactor", "budget_tokens", s.refactorBudgetTokens);
  return out;
}

/** Whether the client should ask for a completion in a document of this language. */
export function completionAllowed(languageId: string, enabledForLanguage: boolean, disabledLanguages: string[]): boolean {
  return enabledForLanguage && !disabledLanguages.includes(languageId);
}
