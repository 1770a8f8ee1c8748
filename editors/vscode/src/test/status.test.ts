import { strict as assert } from "node:assert";
import { test } from "node:test";

import { ServerState, stateFromNotification, statusView } from "../status";

test("known server states are taken from the notification, with the message", () => {
  assert.deepEqual(stateFromNotification({ state: "indexing", message: "120/800 files" }), {
    state: "indexing",
    message: "120/800 files",
  });
  assert.deepEqual(stateFromNotification({ state: "model_unavailable" }), { state: "model_unavailable", message: "" });
});

test("unknown or malformed notifications are ignored", () => {
  assert.equal(stateFromNotification({ state: "stopped" }), undefined);
  assert.equal(stateFromNotification({ state: 3 }), undefined);
  assert.equal(stateFromNotification(null), undefined);
  assert.equal(stateFromNotification("ready"), undefined);
});

test("every state has a distinct text; problems are shown as warnings; all tooltips say how to open the log", () => {
  const states: ServerState[] = ["starting", "indexing", "ready", "model_loading", "generating", "model_unavailable", "stopped", "not_installed", "error"];
  const texts = new Set<string>();
  for (const state of states) {
    const view = statusView(state, "");
    texts.add(view.text);
    assert.match(view.tooltip, /show the codeassist log/);
  }
  assert.equal(texts.size, states.length);
  assert.equal(statusView("ready", "").warning, false);
  assert.equal(statusView("model_unavailable", "").warning, true);
  assert.match(statusView("model_unavailable", "").text, /model unavailable/);
  assert.match(statusView("model_loading", "").text, /model loading/);
  assert.match(statusView("indexing", "").text, /indexing/);
});

test("the server's message is in the tooltip", () => {
  assert.match(statusView("model_unavailable", "start the daemon: codeassist daemon start").tooltip, /codeassist daemon start/);
});

test("contract 4: loading progress and the task being generated are shown", () => {
  const loading = stateFromNotification({ state: "model_loading", message: "loading tiny (layer 3 of 8)", percentage: 37.6 });
  assert.deepEqual(loading, { state: "model_loading", message: "loading tiny (layer 3 of 8)", percentage: 38 });
  assert.match(statusView("model_loading", loading!.message, loading!.percentage).text, /model loading 38%/);
  assert.match(statusView("model_loading", loading!.message, loading!.percentage).tooltip, /layer 3 of 8/);
  const review = stateFromNotification({ state: "generating", task: "review", message: "thinking, 120 tokens, 14s" });
  assert.deepEqual(review, { state: "generating", message: "thinking, 120 tokens, 14s", task: "review" });
  assert.match(statusView("generating", review!.message, undefined, review!.task).text, /spin.*reviewing/);
  assert.match(statusView("generating", "", undefined, "completion").text, /completing/);
  assert.match(statusView("generating", "", undefined, undefined).text, /generating/);
  assert.equal(stateFromNotification({ state: "generating", task: "bogus", percentage: "x" })?.task, undefined);
});

test("a failure's full message is in the tooltip, not cut", () => {
  const long = "the model endpoint http://127.0.0.1:8080/v1 refused the connection; start it or set codeassist.model.endpoint ".repeat(3);
  assert.ok(statusView("error", long).tooltip.includes(long));
});
