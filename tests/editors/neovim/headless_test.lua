-- Headless Neovim run driven by tests/editors/test_neovim_plugin.py.
-- Loads editors/neovim through setup(), opens a file of a real git repository, asks for a
-- completion, runs :CodeassistReview, lists and applies a code action, and writes what happened
-- to $CATEST_NVIM_OUT as JSON. Every step records its outcome; the pytest side asserts.
local env = vim.env
local out_path = env.CATEST_NVIM_OUT
local result = { nvim = tostring(vim.version().major) .. "." .. vim.version().minor .. "." .. vim.version().patch, steps = {} }
local timeout_ms = tonumber(env.CATEST_NVIM_TIMEOUT_MS or "120000")

local function write_result()
  local ok, text = pcall(vim.fn.json_encode, result)
  if not ok then
    text = vim.fn.json_encode({ steps = {}, fatal = "result not encodable: " .. tostring(text) })
  end
  local f = assert(io.open(out_path, "w"))
  f:write(text)
  f:close()
end

local function step(name, fn)
  local ok, value = pcall(fn)
  if ok then
    result.steps[name] = value == nil and true or value
  else
    result.steps[name] = { error = tostring(value) }
  end
  write_result()
  return ok and value or nil
end

local function finish(code)
  write_result()
  vim.cmd((code == 0 and "qall!" or "cquit! " .. code))
end

-- never hang: quit with an error once the whole run exceeds its budget
vim.defer_fn(function()
  result.fatal = "watchdog: the run took longer than its budget"
  write_result()
  vim.cmd("cquit! 3")
end, tonumber(env.CATEST_NVIM_WATCHDOG_MS or "600000"))

vim.opt.runtimepath:prepend(env.CATEST_NVIM_PLUGIN)
vim.lsp.set_log_level(env.CATEST_NVIM_LOG_LEVEL or "WARN")
result.lsp_log = vim.lsp.get_log_path()

local ca = require("codeassist")
local cmd = vim.fn.json_decode(env.CATEST_NVIM_CMD)
local settings = vim.fn.json_decode(env.CATEST_NVIM_SETTINGS or "{}")

step("setup", function()
  assert(ca.setup({ cmd = cmd, settings = settings }) == true, "setup() returned false")
  assert(type(vim.lsp.commands["codeassist.rewrite"]) == "function", "no client-side handler for codeassist.rewrite")
  local commands = vim.api.nvim_get_commands({})
  for _, name in ipairs({ "CodeassistReview", "CodeassistReviewChanges", "CodeassistRefactor", "CodeassistRewrite", "CodeassistActions", "CodeassistRestart", "CodeassistLog", "CodeassistStatus", "CodeassistReindex" }) do
    assert(commands[name] ~= nil, "missing user command " .. name)
  end
  return true
end)

vim.cmd("edit " .. vim.fn.fnameescape(env.CATEST_NVIM_FILE))
local bufnr = vim.api.nvim_get_current_buf()

local client
step("attach", function()
  local ok = vim.wait(timeout_ms, function()
    client = ca.lsp.client_for(bufnr)
    return client ~= nil and client.server_capabilities ~= nil and vim.b[bufnr].codeassist_completion ~= nil
  end, 100)
  if not ok then
    client = nil
    error("no codeassist client attached to the buffer within the timeout")
  end
  result.root_dir = client.config.root_dir
  result.completion_mode = vim.b[bufnr].codeassist_completion
  result.has_inline_api = ca.completion.has_inline()
  result.server_has_inline = client.server_capabilities.inlineCompletionProvider ~= nil
  return true
end)
if client == nil then
  finish(1)
  return
end

step("completion", function()
  -- cursor at the end of each line the test names (1-based, in order), as if typing there;
  -- the first position with a non-empty suggestion counts (the test model's output is noise
  -- that post-processing may reduce to nothing at one place)
  local tried = {}
  for line_text in tostring(env.CATEST_NVIM_LINE):gmatch("%d+") do
    local line = tonumber(line_text)
    local text = vim.api.nvim_buf_get_lines(bufnr, line - 1, line, false)[1]
    vim.api.nvim_win_set_cursor(0, { line, #text })
    local items, err = ca.completion.request_sync(client, bufnr, timeout_ms)
    assert(err == nil, "completion failed: " .. tostring(err))
    local texts = {}
    for _, item in ipairs(items) do
      local t = item.insertText or (item.textEdit and item.textEdit.newText) or item.label
      if vim.trim(t) ~= "" then
        table.insert(texts, t)
      end
    end
    table.insert(tried, line)
    if #texts > 0 then
      return { count = #texts, texts = texts, line = line, tried = tried }
    end
  end
  return { count = 0, texts = {}, tried = tried }
end)

step("inline_completion", function()
  -- 0.12+: the request Neovim's own vim.lsp.inline_completion sends, with this client's capabilities
  if not ca.completion.has_inline() then
    return { skipped_reason = "this Neovim has no vim.lsp.inline_completion" }
  end
  local line = vim.api.nvim_buf_line_count(bufnr)
  local text = vim.api.nvim_buf_get_lines(bufnr, line - 1, line, false)[1]
  vim.api.nvim_win_set_cursor(0, { line, #text })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 1 }
  local done, answer, failure = false, nil, nil
  client:request("textDocument/inlineCompletion", params, function(err, res)
    failure, answer, done = err, res, true
  end, bufnr)
  vim.wait(timeout_ms, function()
    return done
  end, 50)
  assert(done, "timed out waiting for textDocument/inlineCompletion")
  assert(failure == nil, "inlineCompletion failed: " .. vim.inspect(failure))
  local items = (answer == nil or answer == vim.NIL) and {} or (answer.items or answer)
  local texts = {}
  for _, item in ipairs(items) do
    local t = type(item.insertText) == "table" and item.insertText.value or item.insertText
    table.insert(texts, t)
  end
  return { count = #items, texts = texts, client_declares = client.capabilities.textDocument.inlineCompletion ~= nil }
end)

step("review", function()
  -- the review runs against the endpoint the test names (settings changed on the fly)
  local review_settings = env.CATEST_NVIM_REVIEW_SETTINGS
  if review_settings and review_settings ~= "" then
    assert(ca.set_settings(vim.fn.json_decode(review_settings)), "set_settings failed")
  end
  vim.cmd("CodeassistReview")
  local ok = vim.wait(timeout_ms, function()
    return #vim.diagnostic.get(bufnr) > 0
  end, 100)
  local diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(diagnostics, { lnum = d.lnum, severity = d.severity, source = d.source or vim.NIL, message = d.message })
  end
  return { waited_ok = ok, diagnostics = diagnostics, line_count = vim.api.nvim_buf_line_count(bufnr) }
end)

step("code_actions", function()
  local first = tonumber(env.CATEST_NVIM_ACTION_FIRST)
  local last = tonumber(env.CATEST_NVIM_ACTION_LAST)
  local before = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
  local list, err = ca.actions.list_sync(client, bufnr, first, last, timeout_ms)
  if err ~= nil then
    result.code_action_context = vim.json.encode(ca.actions.lsp_diagnostics(client, bufnr, first, last))
  end
  assert(err == nil, "codeAction failed: " .. tostring(err))
  local titles = {}
  for _, a in ipairs(list) do
    table.insert(titles, a.title)
  end
  local wanted = env.CATEST_NVIM_ACTION_TITLE
  local chosen
  for _, a in ipairs(list) do
    if a.title:find(wanted, 1, true) then
      chosen = a
      break
    end
  end
  local applied = { titles = titles, chosen = chosen and chosen.title or vim.NIL }
  if chosen then
    local ok, apply_err = ca.actions.apply_sync(client, bufnr, chosen, timeout_ms)
    applied.ok = ok
    applied.error = apply_err or vim.NIL
  end
  applied.before = before
  applied.after = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
  return applied
end)

step("dirty_completion", function()
  -- the endpoint's raw completion holds control characters, U+FFFD and filler tokens
  -- (CATEST_NVIM_DIRTY_COMPLETION): what the buffer would get is clean
  local line = 5 -- "    return width * height"
  local text = vim.api.nvim_buf_get_lines(bufnr, line - 1, line, false)[1]
  vim.api.nvim_win_set_cursor(0, { line, #text })
  local items, err = ca.completion.request_sync(client, bufnr, timeout_ms)
  assert(err == nil, "completion failed: " .. tostring(err))
  local texts = {}
  for _, item in ipairs(items) do
    table.insert(texts, item.insertText or (item.textEdit and item.textEdit.newText) or item.label)
  end
  -- the plugin's own filter, on an answer as a server that does not clean would send it
  local raw = { items = { { label = "x\14y", insertText = "a\14b\18c\239\191\189d<unused3>e\tf" } } }
  local cleaned = ca.messages.clean_completions(raw).items[1]
  return { texts = texts, plugin_filter = { label = cleaned.label, insertText = cleaned.insertText } }
end)

step("messages", function()
  -- a failing command: the message the user reads, and how often
  local seen = {}
  local notify = vim.notify
  vim.notify = function(msg, level)
    table.insert(seen, { msg = msg, level = level })
  end
  local done = false
  ca.actions.execute(client, bufnr, "codeassist.reviewSelection", { vim.uri_from_bufnr(bufnr) }, function(err)
    if err then
      ca.messages.show(("review failed: %s"):format(ca.messages.error_text(err)))
    end
    done = true
  end)
  vim.wait(timeout_ms, function()
    return done
  end, 50)
  vim.wait(500)
  vim.notify = notify
  local describe = ca.progress.describe
  return {
    shown = seen,
    history = ca.progress.history,
    statusline = ca.statusline(),
    loading = describe({ state = "model_loading", percentage = 42, message = "loading tiny: reading weights" }),
    review = describe({ state = "generating", task = "review", message = "thinking, 120 tokens, 14s" }),
    error_text = ca.messages.error_text({ code = -32803, message = "refused: 'total' is local" }),
  }
end)

step("action_menu_failure", function()
  -- :CodeassistActions as a user runs it: pick "Add docstring", but edit the buffer before the
  -- choice reaches the server, so its resolve is refused: one message, in words, no code
  local seen = {}
  local notify, select = vim.notify, vim.ui.select
  vim.notify = function(msg, level)
    table.insert(seen, { msg = msg, level = level })
  end
  local offered = {}
  vim.ui.select = function(items, opts, on_choice)
    for _, item in ipairs(items) do
      table.insert(offered, opts.format_item(item))
    end
    for _, item in ipairs(items) do
      if item.title:find("docstring", 1, true) then
        vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, { "# edited meanwhile" })
        on_choice(item)
        return
      end
    end
    on_choice(nil)
  end
  vim.cmd("4CodeassistActions")
  vim.wait(20000, function()
    return #seen > 0
  end, 50)
  vim.wait(300)
  vim.notify, vim.ui.select = notify, select
  vim.api.nvim_buf_set_lines(bufnr, 0, 1, false, {})
  return { offered = offered, shown = seen }
end)

step("status", function()
  return ca.status_lines()
end)

finish(0)
