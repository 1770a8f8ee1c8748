-- Starting `codeassist lsp` for a buffer's root and attaching buffers to it.
local compat = require("codeassist.compat")
local messages = require("codeassist.messages")
local progress = require("codeassist.progress")
local root = require("codeassist.root")

local M = {}

M.NAME = "codeassist"
M.INSTALL_COMMAND = "pipx install codeassist"

-- root directory -> client id
local by_root = {}
-- client id -> { state = "...", message = "..." }
M.status = {}
local missing_reported = false

local function status_handler(_, result, ctx)
  if type(result) == "table" and type(result.state) == "string" then
    local status = {
      state = result.state,
      message = type(result.message) == "string" and result.message or "",
      percentage = type(result.percentage) == "number" and result.percentage or nil,
      task = type(result.task) == "string" and result.task or nil,
    }
    M.status[ctx.client_id] = status
    progress.update(status)
  end
  return vim.NIL
end

-- window/showMessage: the full text, each problem once (server and client may both report it).
local function show_message_handler(_, result)
  if type(result) == "table" and type(result.message) == "string" then
    local level = ({ vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG })[result.type]
    messages.show(result.message, level or vim.log.levels.INFO)
  end
  return vim.NIL
end

-- Requests the user starts through vim.lsp.buf (rename, code actions, commands): a failure is
-- shown as its message, once, never as "-32803: ..." in a hit-enter prompt.
local function without_codes(method)
  return function(err, result, ctx, config)
    if err ~= nil then
      if err.code ~= -32800 and err.code ~= -32801 then -- cancelled / content modified: silent
        messages.show(messages.error_text(err), vim.log.levels.ERROR)
      end
      return
    end
    local default = vim.lsp.handlers[method]
    if default then
      return default(err, result, ctx, config)
    end
  end
end

local CLEANED = { ["textDocument/completion"] = true, ["textDocument/inlineCompletion"] = true }

-- Every completion answer passes through messages.clean_completions before Neovim (or a
-- completion plugin) sees it, whichever handler asked: nothing unprintable reaches a buffer.
local function clean_completion_answers(client)
  local method_call = compat.has("0.11")
  local request = client.request
  local function wrap(method, handler)
    if not CLEANED[method] or handler == nil then
      return handler
    end
    return function(err, result, ...)
      return handler(err, messages.clean_completions(result), ...)
    end
  end
  if method_call then
    client.request = function(self, method, params, handler, bufnr)
      if handler == nil and CLEANED[method] then
        handler = self.handlers[method] or vim.lsp.handlers[method]
      end
      return request(self, method, params, wrap(method, handler), bufnr)
    end
  else
    client.request = function(method, params, handler, bufnr)
      if handler == nil and CLEANED[method] then
        handler = client.handlers[method] or vim.lsp.handlers[method]
      end
      return request(method, params, wrap(method, handler), bufnr)
    end
  end
end

-- workspace/configuration: section "codeassist" (or none) is the client's current settings.
local function configuration_handler(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local settings = client and client.config.settings or vim.empty_dict()
  local answers = {}
  for i, item in ipairs((params or {}).items or {}) do
    if item.section == nil or item.section == "codeassist" then
      answers[i] = settings
    else
      answers[i] = vim.NIL
    end
  end
  return answers
end

--- The client config for a root directory (pure apart from reading the options).
function M.client_config(opts, root_dir, on_attach)
  local settings = vim.deepcopy(opts.settings)
  if vim.tbl_isempty(settings) then
    settings = vim.empty_dict()
  end
  return {
    name = M.NAME,
    cmd = opts.cmd,
    cmd_cwd = root_dir,
    root_dir = root_dir,
    workspace_folders = { { uri = vim.uri_from_fname(root_dir), name = root_dir } },
    init_options = settings,
    settings = settings,
    capabilities = vim.lsp.protocol.make_client_capabilities(),
    handlers = {
      ["codeassist/status"] = status_handler,
      ["workspace/configuration"] = configuration_handler,
      ["window/showMessage"] = show_message_handler,
      ["textDocument/rename"] = without_codes("textDocument/rename"),
      ["textDocument/codeAction"] = without_codes("textDocument/codeAction"),
      ["workspace/executeCommand"] = without_codes("workspace/executeCommand"),
    },
    on_init = function(client)
      clean_completion_answers(client)
    end,
    on_attach = on_attach,
    on_exit = function(_, _, client_id)
      for dir, id in pairs(by_root) do
        if id == client_id then
          by_root[dir] = nil
        end
      end
      M.status[client_id] = nil
    end,
  }
end

local function report_missing(cmd)
  if missing_reported then
    return
  end
  missing_reported = true
  vim.notify(
    ("codeassist: '%s' was not found. Install it with `%s`, or pass its path as "
      .. 'require("codeassist").setup({ cmd = { "/path/to/codeassist", "lsp" } }).'):format(cmd[1], M.INSTALL_COMMAND),
    vim.log.levels.ERROR
  )
end

--- Starts (or reuses) the server for the buffer's root and attaches the buffer; returns the client id.
function M.attach(opts, bufnr, on_attach)
  local dir = root.for_buffer(bufnr)
  if dir == nil then
    return nil
  end
  if vim.fn.executable(opts.cmd[1]) ~= 1 then
    report_missing(opts.cmd)
    return nil
  end
  local config = M.client_config(opts, dir, on_attach)
  local id
  if vim.lsp.start then
    -- 0.8+: one client per root, reused for every buffer below it
    id = vim.lsp.start(config, {
      bufnr = bufnr,
      reuse_client = function(client, conf)
        return client.name == conf.name and client.config.root_dir == conf.root_dir
      end,
    })
  else
    -- 0.7: start_client + buf_attach_client, reuse tracked here
    id = by_root[dir]
    if id ~= nil and vim.lsp.get_client_by_id(id) == nil then
      id = nil
    end
    if id == nil then
      id = vim.lsp.start_client(config)
    end
    if id ~= nil then
      vim.lsp.buf_attach_client(bufnr, id)
    end
  end
  if id == nil then
    vim.notify("codeassist: the language server did not start; see :CodeassistLog", vim.log.levels.ERROR)
    return nil
  end
  by_root[dir] = id
  return id
end

--- The codeassist client attached to a buffer, or nil.
function M.client_for(bufnr)
  for _, client in ipairs(compat.clients({ name = M.NAME })) do
    if client.attached_buffers and client.attached_buffers[bufnr] then
      return client
    end
    if vim.lsp.buf_is_attached and vim.lsp.buf_is_attached(bufnr, client.id) then
      return client
    end
  end
  return nil
end

--- Stops every codeassist client (restart starts them again on the next buffer event).
function M.stop_all()
  for _, client in ipairs(compat.clients({ name = M.NAME })) do
    compat.stop(client, false)
  end
  by_root = {}
  missing_reported = false
end

--- Replaces the settings of every running server (workspace/didChangeConfiguration).
function M.update_settings(settings)
  local payload = vim.tbl_isempty(settings) and vim.empty_dict() or vim.deepcopy(settings)
  for _, client in ipairs(compat.clients({ name = M.NAME })) do
    client.config.settings = payload
    compat.notify(client, "workspace/didChangeConfiguration", { settings = payload })
  end
end

--- Roots with a running server, for :CodeassistStatus.
function M.roots()
  local out = {}
  for dir, id in pairs(by_root) do
    out[dir] = id
  end
  return out
end

return M
