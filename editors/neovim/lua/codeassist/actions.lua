-- Code actions and server commands (review, refactor), with synchronous helpers for scripts.
local compat = require("codeassist.compat")
local messages = require("codeassist.messages")

local M = {}

M.SERVER_COMMANDS = {
  review_file = "codeassist.reviewFile",
  review_changes = "codeassist.reviewChanges",
  reindex = "codeassist.reindex",
  rewrite = "codeassist.rewrite",
}

local function wait_for(client, bufnr, method, params, timeout_ms)
  local done, answer, failure = false, nil, nil
  compat.request(client, method, params, function(err, result)
    failure = err and (err.message or vim.inspect(err)) or nil
    answer = result
    done = true
  end, bufnr)
  vim.wait(timeout_ms, function()
    return done
  end, 50)
  if not done then
    return nil, ("timed out waiting for %s"):format(method)
  end
  return answer, failure
end

-- Fields of the server's diagnostic that Neovim keeps in user_data.lsp (0.7 keeps only these;
-- later versions keep the whole diagnostic). Empty tables are left out: Lua sends {} as an
-- object, which breaks list fields such as tags.
local EXTRA_FIELDS = { "code", "codeDescription", "data", "tags", "relatedInformation" }

--- A vim.diagnostic entry back in LSP form (range in the client's position encoding).
function M.to_lsp_diagnostic(client, bufnr, d)
  local encoding = compat.encoding(client)
  local end_lnum = d.end_lnum or d.lnum
  local end_col = d.end_col or d.col
  local diagnostic = {
    range = {
      start = { line = d.lnum, character = vim.lsp.util.character_offset(bufnr, d.lnum, d.col, encoding) },
      ["end"] = { line = end_lnum, character = vim.lsp.util.character_offset(bufnr, end_lnum, end_col, encoding) },
    },
    severity = d.severity,
    message = d.message,
    source = d.source,
  }
  local lsp = (d.user_data and d.user_data.lsp) or {}
  for _, key in ipairs(EXTRA_FIELDS) do
    local value = lsp[key]
    if value ~= nil and value ~= vim.NIL and not (type(value) == "table" and vim.tbl_isempty(value)) then
      diagnostic[key] = value
    end
  end
  return diagnostic
end

--- The server's diagnostics on lines [first, last] in LSP form, for a code action context.
function M.lsp_diagnostics(client, bufnr, first, last)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == "codeassist" and d.lnum >= first - 1 and d.lnum <= last - 1 then
      table.insert(out, M.to_lsp_diagnostic(client, bufnr, d))
    end
  end
  return out
end

--- The server's code actions for lines [first, last] (1-based); returns (actions, err).
function M.list_sync(client, bufnr, first, last, timeout_ms)
  local params = compat.range_params(client, bufnr, first, last)
  params.context = { diagnostics = M.lsp_diagnostics(client, bufnr, first, last) }
  local result, err = wait_for(client, bufnr, "textDocument/codeAction", params, timeout_ms)
  if err then
    return nil, err
  end
  if result == nil or result == vim.NIL then
    return {}, nil
  end
  return result, nil
end

--- Resolves (if needed) and applies one code action; returns (true, nil) or (false, err).
function M.apply_sync(client, bufnr, action, timeout_ms)
  if action.edit == nil and action.command == nil then
    local resolved, err = wait_for(client, bufnr, "codeAction/resolve", action, timeout_ms)
    if err then
      return false, err
    end
    action = resolved
  end
  if action.edit then
    compat.apply_edit(client, action.edit)
  end
  local command = action.command
  if type(command) == "table" then
    local _, err = wait_for(client, bufnr, "workspace/executeCommand", command, timeout_ms)
    if err then
      return false, err
    end
  end
  if action.edit == nil and command == nil then
    return false, ("code action '%s' has neither an edit nor a command"):format(action.title or "?")
  end
  return true, nil
end

--- Runs a chosen code action without blocking the editor: resolves it (the model may take a
--- while), applies its edit, runs its command; a failure is shown once, in words. done(ok) is
--- called at the end when given.
function M.run(client, bufnr, action, done)
  local function finish(ok)
    if done then
      done(ok)
    end
  end
  local function fail(err)
    messages.show(("%s failed: %s"):format(action.title or "code action", messages.error_text(err)))
    finish(false)
  end
  local function perform(resolved)
    if resolved.edit then
      compat.apply_edit(client, resolved.edit)
    end
    local command = resolved.command
    if type(command) ~= "table" then
      finish(resolved.edit ~= nil)
      return
    end
    local local_handler = vim.lsp.commands[command.command]
    if local_handler then -- e.g. codeassist.rewrite asks for its instruction
      local_handler(command, { bufnr = bufnr, client_id = client.id })
      finish(true)
      return
    end
    M.execute(client, bufnr, command.command, command.arguments or {}, function(err)
      if err and err.code ~= -32800 then
        fail(err)
      else
        finish(err == nil)
      end
    end)
  end
  if action.edit ~= nil or action.command ~= nil then
    perform(action)
    return
  end
  compat.request(client, "codeAction/resolve", action, function(err, resolved)
    if err then
      fail(err) -- the user chose it: even "the document changed" is worth saying
    elseif resolved == nil or resolved == vim.NIL then
      fail({ message = "the server returned nothing to apply" })
    else
      perform(resolved)
    end
  end, bufnr)
end

--- Runs a server command and calls done(err, result) when it answers.
function M.execute(client, bufnr, command, arguments, done)
  compat.request(client, "workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if done then
      done(err, result)
    end
  end, bufnr)
end

return M
