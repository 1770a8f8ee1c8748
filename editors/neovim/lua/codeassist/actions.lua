-- Code actions and server commands (review, refactor), with synchronous helpers for scripts.
local compat = require("codeassist.compat")

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

--- The LSP diagnostics (as the server sent them) on lines [first, last], for a code action context.
function M.lsp_diagnostics(bufnr, first, last)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = d.user_data and d.user_data.lsp
    if lsp and d.lnum >= first - 1 and d.lnum <= last - 1 then
      table.insert(out, lsp)
    end
  end
  return out
end

--- The server's code actions for lines [first, last] (1-based); returns (actions, err).
function M.list_sync(client, bufnr, first, last, timeout_ms)
  local params = compat.range_params(client, bufnr, first, last)
  params.context = { diagnostics = M.lsp_diagnostics(bufnr, first, last) }
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

--- Runs a server command and calls done(err, result) when it answers.
function M.execute(client, bufnr, command, arguments, done)
  compat.request(client, "workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if done then
      done(err, result)
    end
  end, bufnr)
end

return M
