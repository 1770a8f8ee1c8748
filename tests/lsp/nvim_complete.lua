-- Headless Neovim 0.7: start `codeassist lsp` with vim.lsp.start_client, open a file, ask for
-- completion at the ends of a few lines, write what came back as JSON to $OUT.
local out = os.getenv("OUT")
local file = os.getenv("FILE")
local cmd = vim.fn.json_decode(os.getenv("SERVER_CMD"))
local result = { version = vim.version(), attempts = {} }

local function finish()
  vim.fn.writefile({ vim.fn.json_encode(result) }, out)
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  local id = vim.lsp.start_client({
    cmd = cmd,
    root_dir = vim.fn.fnamemodify(file, ":h:h"),
    init_options = { completion = { debounce_ms = 0, budget_tokens = 160, max_tokens = 4, temperature = 0 } },
  })
  assert(id, "start_client returned nil")
  vim.cmd("edit " .. file)
  vim.lsp.buf_attach_client(0, id)
  local ready = vim.wait(60000, function()
    local client = vim.lsp.get_client_by_id(id)
    return client ~= nil and client.server_capabilities ~= nil and vim.lsp.buf_is_attached(0, id)
  end, 50)
  assert(ready, "the server did not initialize")
  result.completion_provider = vim.lsp.get_client_by_id(id).server_capabilities.completionProvider ~= nil
  for _, row in ipairs({ 10, 6, 4 }) do
    local line = vim.api.nvim_buf_get_lines(0, row - 1, row, false)[1]
    vim.api.nvim_win_set_cursor(0, { row, #line })
    local params = vim.lsp.util.make_position_params()
    local responses = vim.lsp.buf_request_sync(0, "textDocument/completion", params, 120000)
    local items = {}
    for _, response in pairs(responses or {}) do
      if response.err then
        table.insert(items, { error = response.err.message })
      elseif response.result then
        for _, item in ipairs(response.result.items or response.result) do
          table.insert(items, { label = item.label, text = item.textEdit and item.textEdit.newText })
        end
      end
    end
    table.insert(result.attempts, { row = row, items = items })
    if #items > 0 then
      break
    end
  end
end)
if not ok then
  result.error = tostring(err)
end
finish()
