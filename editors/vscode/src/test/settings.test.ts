import { strict as assert } from "node:assert";
import { test } from "node:test";

import { completionAllowed, readExtensionSettings, toServerSettings } from "../settings";

function getter(values: Record<string, unknown>) {
  return (key: string) => values[key];
}

test("defaults (nothing set) send no server settings, so config files decide", () => {
  const s = readExtensionSettings(getter({ "completion.enable": true, "trace.server": "off" }));
  assert.deepEqual(toServerSettings(s), {});
  assert.equal(s.completionEnable, true);
  assert.equal(s.trace, "off");
});

test("every set value lands under its config.toml section and key", () => {
  const s = readExtensionSettings(
    getter({
      "model.endpoint": " http://127.0.0.1:8080/v1 ",
      "model.path": "/models/gemma",
      "completion.disabledLanguages": ["markdown", " plaintext ", "", 3],
      "completion.budgetTokens": 2048,
      "completion.maxTokens": 64,
      "completion.debounceMs": 25.7,
      "review.budgetTokens": 0,
      "refactor.budgetTokens": 8000,
    }),
  );
  assert.deepEqual(toServerSettings(s), {
    model: { endpoint: "http://127.0.0.1:8080/v1", path: "/models/gemma" },
    completion: { budget_tokens: 2048, max_tokens: 64, debounce_ms: 25, disabled_languages: ["markdown", "plaintext"] },
    review: { budget_tokens: 0 },
    refactor: { budget_tokens: 8000 },
  });
});

test("wrong types and negative numbers count as not set", () => {
  const s = readExtensionSettings(
    getter({
      executable: 42,
      serverArgs: "lsp",
      "completion.budgetTokens": -1,
      "completion.debounceMs": "60",
      "completion.maxTokens": Number.NaN,
      "trace.server": "loud",
    }),
  );
  assert.equal(s.executable, "");
  assert.deepEqual(s.serverArgs, []);
  assert.equal(s.trace, "off");
  assert.deepEqual(toServerSettings(s), {});
});

test("max_tokens 0 is not sent (it would disable completion silently)", () => {
  const s = readExtensionSettings(getter({ "completion.maxTokens": 0 }));
  assert.deepEqual(toServerSettings(s), {});
});

test("completion is off when disabled for the language or listed", () => {
  assert.equal(completionAllowed("python", true, []), true);
  assert.equal(completionAllowed("python", false, []), false);
  assert.equal(completionAllowed("markdown", true, ["markdown"]), false);
  assert.equal(completionAllowed("python", true, ["markdown"]), true);
});

test("completion.enable is only off when explicitly false", () => {
  assert.equal(readExtensionSettings(getter({})).completionEnable, true);
  assert.equal(readExtensionSettings(getter({ "completion.enable": false })).completionEnable, false);
});
