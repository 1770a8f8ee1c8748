-- codeassist for Neovim: require("codeassist").setup({...}).
local actions = require("codeassist.actions")
local compat = require("codeassist.compat")
local completion = require("codeassist.completion")
local config = require("codeassist.config")
local lsp = require("codeassist.lsp")
local messages = require("codeassist.messages")
local progress = require("codeassist.progress")

local M = {}

M.options = nil

local function current_client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = lsp.client_for(bufnr)
  if client == nil then
    vim.notify("codeassist: no codeassist server for this buffer (is it a file? see :CodeassistStatus)", vim.log.levels.WARN)
  end
  return client, bufnr
end

local function report(what)
  return function(err)
    if err and err.code ~= -32800 then -- a cancelled request is no failure
      messages.show(("%s failed: %s"):format(what, messages.error_text(err)), vim.log.levels.ERROR)
    end
  end
end

local function map(mode, lhs, rhs, bufnr, desc, expr)
  if lhs and lhs ~= "" then
    vim.keymap.set(mode, lhs, rhs, { buffer = bufnr, desc = "codeassist: " .. desc, expr = expr or false, silent = true })
  end
end

local function set_keymaps(bufnr, mode_of_completion)
  local keys = M.options.keymaps
  if keys == false then
    return
  end
  if mode_of_completion == "inline" then
    map("i", keys.accept, function()
      if not vim.lsp.inline_completion.get() then
        return vim.api.nvim_replace_termcodes(keys.accept, true, false, true)
      end
      return ""
    end, bufnr, "accept the inline suggestion", true)
    map("i", keys.next, function()
      vim.lsp.inline_completion.select({ count = 1 })
    end, bufnr, "next inline suggestion")
    map("i", keys.prev, function()
      vim.lsp.inline_completion.select({ count = -1 })
    end, bufnr, "previous inline suggestion")
  end
  map("n", keys.review, "<cmd>CodeassistReview<cr>", bufnr, "review this file")
  map("n", keys.review_changes, "<cmd>CodeassistReviewChanges<cr>", bufnr, "review uncommitted changes")
  map("n", keys.actions, "<cmd>CodeassistActions<cr>", bufnr, "code actions")
  map("x", keys.actions, ":CodeassistActions<cr>", bufnr, "code actions on the selection")
end

local function on_attach(client, bufnr)
  local mode_of_completion = "none"
  if M.options.completion.enable then
    mode_of_completion = completion.enable(client, bufnr)
  end
  vim.b[bufnr].codeassist_completion = mode_of_completion
  set_keymaps(bufnr, mode_of_completion)
  if M.options.on_attach then
    M.options.on_attach(client, bufnr)
  end
end

--- Attaches a buffer to its root's server (the autocommand calls this for every file buffer).
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if M.options == nil then
    return nil
  end
  if vim.bo[bufnr].buftype ~= "" or not config.wants_filetype(M.options, vim.bo[bufnr].filetype) then
    return nil
  end
  return lsp.attach(M.options, bufnr, on_attach)
end

--- Reviews the current file; findings arrive as diagnostics (source "codeassist").
function M.review_file(bufnr)
  local client
  client, bufnr = current_client(bufnr)
  if client then
    actions.execute(client, bufnr, actions.SERVER_COMMANDS.review_file, { vim.uri_from_bufnr(bufnr) }, report("review"))
  end
end

--- Reviews the uncommitted changes of the buffer's repository.
function M.review_changes(bufnr)
  local client
  client, bufnr = current_client(bufnr)
  if client then
    local root_uri = vim.uri_from_fname(client.config.root_dir)
    actions.execute(client, bufnr, actions.SERVER_COMMANDS.review_changes, { root_uri }, report("review of uncommitted changes"))
  end
end

--- Rebuilds the repository index.
function M.reindex(bufnr)
  local client
  client, bufnr = current_client(bufnr)
  if client then
    actions.execute(client, bufnr, actions.SERVER_COMMANDS.reindex, {}, report("reindex"))
  end
end

--- Rewrites lines [first, last] following an instruction.
function M.rewrite(first, last, instruction, bufnr)
  local client
  client, bufnr = current_client(bufnr)
  if not client then
    return
  end
  if instruction == nil or vim.trim(instruction) == "" then
    vim.notify("codeassist: say what to do, e.g. :CodeassistRewrite use pathlib instead of os.path", vim.log.levels.WARN)
    return
  end
  local range = compat.range_params(client, bufnr, first, last).range
  actions.execute(client, bufnr, actions.SERVER_COMMANDS.rewrite, { vim.uri_from_bufnr(bufnr), range, instruction }, report("rewrite"))
end

--- The code action menu for lines [first, last] (refactors, quick fixes, review), through
--- vim.ui.select; the chosen action runs in the background and its failure is shown in words.
function M.code_actions(first, last)
  local client, bufnr = current_client()
  if not client then
    return
  end
  local list, err = actions.list_sync(client, bufnr, first, last, 10000)
  if err ~= nil then
    messages.show("code actions failed: " .. messages.error_text(err))
    return
  end
  if #list == 0 then
    vim.notify("codeassist: no code actions here", vim.log.levels.INFO)
    return
  end
  vim.ui.select(list, {
    prompt = "codeassist:",
    format_item = function(action)
      return action.title
    end,
  }, function(choice)
    if choice ~= nil then
      actions.run(client, bufnr, choice)
    end
  end)
end

--- Replaces the codeassist settings (config.toml shape) for running and future servers.
function M.set_settings(settings)
  if type(settings) ~= "table" then
    vim.notify("codeassist: set_settings() takes a table such as { model = { endpoint = \"daemon\" } }", vim.log.levels.ERROR)
    return false
  end
  M.options.settings = vim.deepcopy(settings)
  lsp.update_settings(settings)
  return true
end

--- A one-line description of each running server, for :CodeassistStatus.
function M.status_lines()
  local lines = {}
  for dir, id in pairs(lsp.roots()) do
    local s = lsp.status[id]
    local client = vim.lsp.get_client_by_id(id)
    local state = s and progress.describe(s):gsub("^codeassist: ", "") or (client and "running" or "stopped")
    table.insert(lines, ("%s  (client %d) %s"):format(dir, id, state))
  end
  if #lines == 0 then
    table.insert(lines, "codeassist: no server running; open a file in a repository")
  end
  return lines
end

local function create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd("CodeassistReview", function()
    M.review_file()
  end, { desc = "codeassist: review this file" })
  cmd("CodeassistReviewChanges", function()
    M.review_changes()
  end, { desc = "codeassist: review uncommitted changes" })
  cmd("CodeassistReindex", function()
    M.reindex()
  end, { desc = "codeassist: rebuild the repository index" })
  cmd("CodeassistActions", function(a)
    M.code_actions(a.line1, a.line2)
  end, { range = true, desc = "codeassist: code actions (refactor) on a line or range" })
  cmd("CodeassistRefactor", function(a)
    M.code_actions(a.line1, a.line2)
  end, { range = true, desc = "codeassist: refactors for a line or range" })
  cmd("CodeassistRewrite", function(a)
    M.rewrite(a.line1, a.line2, a.args)
  end, { range = true, nargs = "+", desc = "codeassist: rewrite the range following an instruction" })
  cmd("CodeassistRestart", function()
    lsp.stop_all()
    vim.defer_fn(function()
      for _, b in ipairs(vim.api.nvim_list_bufs()) do
        if vim.api.nvim_buf_is_loaded(b) then
          M.attach(b)
        end
      end
    end, 500)
  end, { desc = "codeassist: restart the language server" })
  cmd("CodeassistLog", function()
    vim.cmd("tabnew " .. vim.fn.fnameescape(vim.lsp.get_log_path()))
  end, { desc = "codeassist: open Neovim's LSP log (server stderr is logged there)" })
  cmd("CodeassistStatus", function()
    print(table.concat(M.status_lines(), "\n"))
  end, { desc = "codeassist: server state per repository" })
end

-- "Rewrite with instruction..." in the code action menu is codeassist.rewrite [uri, range]:
-- Neovim runs a client-side handler for it (vim.lsp.commands), which asks for the instruction.
local function rewrite_handler(command, ctx)
  local args = command.arguments or {}
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client == nil then
    return
  end
  local function send(instruction)
    local full = { args[1], args[2], instruction }
    actions.execute(client, ctx.bufnr, actions.SERVER_COMMANDS.rewrite, full, report("rewrite"))
  end
  if #args >= 3 then
    send(args[3])
    return
  end
  vim.ui.input({ prompt = "Rewrite (what should change?): " }, function(text)
    if text ~= nil and vim.trim(text) ~= "" then
      send(text)
    end
  end)
end

--- Configures the plugin; call once from your init.lua.
function M.setup(user_opts)
  local opts, err = config.resolve(user_opts)
  if opts == nil then
    vim.notify(err, vim.log.levels.ERROR)
    return false
  end
  M.options = opts
  create_commands()
  vim.lsp.commands[actions.SERVER_COMMANDS.rewrite] = rewrite_handler
  local group = vim.api.nvim_create_augroup("codeassist", { clear = true })
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile", "FileType" }, {
    group = group,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.api.nvim_buf_get_name(b) ~= "" then
      M.attach(b)
    end
  end
  return true
end

--- For your statusline: what codeassist is doing ("" when idle), e.g. "codeassist: reviewing".
M.statusline = progress.statusline

M.completion = completion
M.messages = messages
M.progress = progress
M.actions = actions
M.lsp = lsp

return M
