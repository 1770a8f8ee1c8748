-- Options for require("codeassist").setup(): defaults and validation (pure).
local M = {}

M.defaults = {
  -- The server command; the buffer's git root is its working directory.
  cmd = { "codeassist", "lsp" },
  -- codeassist settings in config.toml shape, sent as initializationOptions and on change,
  -- e.g. { model = { endpoint = "daemon" }, completion = { debounce_ms = 60 } }.
  settings = {},
  -- Filetypes to attach to; empty: every normal file buffer.
  filetypes = {},
  -- Filetypes never attached to.
  exclude_filetypes = { "gitcommit", "gitrebase", "help", "qf", "netrw" },
  -- Inline (ghost text) completion where Neovim has it (0.12+); completion items otherwise.
  completion = { enable = true },
  -- Suggested buffer-local keymaps; false to set none, or a table to change single keys.
  keymaps = {
    accept = "<C-l>", -- insert mode: accept the inline suggestion (0.12+)
    next = "<M-]>", -- insert mode: next inline suggestion (0.12+)
    prev = "<M-[>", -- insert mode: previous inline suggestion (0.12+)
    review = "<leader>cr", -- normal mode: review this file
    review_changes = "<leader>cR", -- normal mode: review uncommitted changes
    actions = "<leader>ca", -- normal and visual mode: code actions (refactors, quick fixes)
  },
  -- Called as on_attach(client, bufnr) after the plugin's own attach work.
  on_attach = nil,
}

local function is_list_of_strings(value)
  if type(value) ~= "table" then
    return false
  end
  for i, v in ipairs(value) do
    if type(v) ~= "string" or (i == 1 and v == "") then
      return false
    end
  end
  return #value > 0
end

--- Merges user options over the defaults; returns (options, nil) or (nil, message).
function M.resolve(user)
  user = user or {}
  if type(user) ~= "table" then
    return nil, "codeassist: setup() takes a table of options, got " .. type(user)
  end
  local opts = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), user)
  if user.cmd ~= nil then
    opts.cmd = user.cmd -- a list replaces, never merges index by index
  end
  if type(opts.cmd) == "string" then
    opts.cmd = { opts.cmd, "lsp" }
  end
  if not is_list_of_strings(opts.cmd) then
    return nil, 'codeassist: option "cmd" must be a list of strings such as { "codeassist", "lsp" }'
  end
  if type(opts.settings) ~= "table" then
    return nil, 'codeassist: option "settings" must be a table such as { model = { endpoint = "daemon" } }'
  end
  if user.keymaps == false then
    opts.keymaps = false
  end
  if opts.on_attach ~= nil and type(opts.on_attach) ~= "function" then
    return nil, 'codeassist: option "on_attach" must be a function(client, bufnr)'
  end
  return opts, nil
end

--- Whether a buffer with this filetype should get the server.
function M.wants_filetype(opts, filetype)
  if vim.tbl_contains(opts.exclude_filetypes, filetype) then
    return false
  end
  if #opts.filetypes == 0 then
    return true
  end
  return vim.tbl_contains(opts.filetypes, filetype)
end

return M
