-- The few Neovim APIs that differ between 0.7 (Debian) and current versions.
local M = {}

function M.has(version)
  return vim.fn.has("nvim-" .. version) == 1
end

--- Every running LSP client.
function M.clients(filter)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients(filter)
  end
  local out = {}
  for _, client in pairs(vim.lsp.get_active_clients()) do
    if not filter or not filter.name or client.name == filter.name then
      table.insert(out, client)
    end
  end
  return out
end

--- client:request on 0.11+, client.request before.
function M.request(client, method, params, handler, bufnr)
  if M.has("0.11") then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- client:notify on 0.11+, client.notify before.
function M.notify(client, method, params)
  if M.has("0.11") then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

--- client:stop on 0.11+, client.stop before.
function M.stop(client, force)
  if M.has("0.11") then
    return client:stop(force)
  end
  return client.stop(force)
end

--- The position encoding the client negotiated.
function M.encoding(client)
  return client.offset_encoding or "utf-16"
end

--- Position params for the cursor in the current window.
function M.position_params(client)
  if M.has("0.11") then
    return vim.lsp.util.make_position_params(0, M.encoding(client))
  end
  return vim.lsp.util.make_position_params()
end

--- Range params for lines [first, last] (1-based, whole lines).
function M.range_params(client, bufnr, first, last)
  local last_text = vim.api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1] or ""
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = {
      start = { line = first - 1, character = 0 },
      ["end"] = { line = last - 1, character = vim.lsp.util.character_offset(bufnr, last - 1, #last_text, M.encoding(client)) },
    },
  }
  return params
end

--- Applies a workspace edit with the client's encoding.
function M.apply_edit(client, edit)
  vim.lsp.util.apply_workspace_edit(edit, M.encoding(client))
end

--- Diagnostics of a buffer (vim.diagnostic exists since 0.6).
function M.diagnostics(bufnr)
  return vim.diagnostic.get(bufnr)
end

return M
