-- Completion: inline (ghost text) on Neovim 0.12+, completion items before.
local compat = require("codeassist.compat")

local M = {}

--- Whether this Neovim shows LSP inline completions itself.
function M.has_inline()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
end

local function server_has_inline(client)
  local caps = client.server_capabilities or {}
  return caps.inlineCompletionProvider ~= nil and caps.inlineCompletionProvider ~= false
end

--- Wires completion for a buffer; returns "inline" or "items".
function M.enable(client, bufnr)
  if M.has_inline() and server_has_inline(client) then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    return "inline"
  end
  -- Before 0.12: the suggestion arrives as a completion item (omni completion, <C-x><C-o>),
  -- and through any completion plugin that reads LSP sources.
  vim.bo[bufnr].omnifunc = "v:lua.vim.lsp.omnifunc"
  if vim.lsp.completion and vim.lsp.completion.enable then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = false })
  end
  return "items"
end

--- Asks the server for completion items at the cursor and waits; returns (items, err).
function M.request_sync(client, bufnr, timeout_ms)
  local params = compat.position_params(client)
  params.context = { triggerKind = 1 }
  local done, items, failure = false, nil, nil
  compat.request(client, "textDocument/completion", params, function(err, result)
    if err then
      failure = err.message or vim.inspect(err)
    elseif result == nil or result == vim.NIL then
      items = {}
    else
      items = result.items or result
    end
    done = true
  end, bufnr)
  vim.wait(timeout_ms, function()
    return done
  end, 50)
  if not done then
    return nil, "timed out waiting for textDocument/completion"
  end
  return items, failure
end

return M
