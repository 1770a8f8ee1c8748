-- What the user reads: errors without JSON-RPC codes, each problem once, clean suggestion text.
local M = {}

--- The human text of an LSP error (a table with code/message, or a string), without its code.
function M.error_text(err)
  local text = type(err) == "table" and (err.message or vim.inspect(err)) or tostring(err)
  text = text:gsub("^%-?%d%d%d%d%d?: ", ""):gsub("^codeassist: ", "")
  return vim.trim(text)
end

local shown = {}
M.WINDOW_MS = 10000

--- True if `text` was not shown in the last WINDOW_MS (and records it): one problem, one message.
function M.admit(text, now_ms)
  local key = text:gsub("^codeassist: ", "")
  now_ms = now_ms or vim.loop.now()
  local last = shown[key]
  if last ~= nil and now_ms - last < M.WINDOW_MS then
    return false
  end
  shown[key] = now_ms
  return true
end

--- Shows a full message once (vim.notify keeps it whole; the echo line would cut it).
function M.show(text, level)
  if not text:match("^codeassist: ") then
    text = "codeassist: " .. text
  end
  if M.admit(text) then
    vim.notify(text, level or vim.log.levels.ERROR)
  end
end

-- Control characters (but tab and newline), U+FFFD, and bidirectional overrides/isolates
-- (U+202A-U+202E, U+2066-U+2069): they never reach a buffer.
local UNWANTED = {
  "[%z\1-\8\11-\31\127]",
  "\239\191\189", -- U+FFFD
  "\226\128[\170-\174]", -- U+202A..U+202E
  "\226\129[\166-\169]", -- U+2066..U+2069
}

--- Text fit to insert: no control characters, replacement characters or filler tokens.
function M.clean_text(text)
  if type(text) ~= "string" then
    return text
  end
  for _, pattern in ipairs(UNWANTED) do
    text = text:gsub(pattern, "")
  end
  return (text:gsub("<unused%d+>", ""):gsub("<pad>", ""))
end

local function clean_item(item)
  if type(item) ~= "table" then
    return item
  end
  if type(item.insertText) == "string" then
    item.insertText = M.clean_text(item.insertText)
  elseif type(item.insertText) == "table" and type(item.insertText.value) == "string" then
    item.insertText.value = M.clean_text(item.insertText.value)
  end
  if type(item.textEdit) == "table" and type(item.textEdit.newText) == "string" then
    item.textEdit.newText = M.clean_text(item.textEdit.newText)
  end
  if type(item.label) == "string" then
    item.label = M.clean_text(item.label)
  end
  if type(item.filterText) == "string" then
    item.filterText = M.clean_text(item.filterText)
  end
  return item
end

--- A completion or inline completion answer with every suggestion's text cleaned.
function M.clean_completions(result)
  if type(result) ~= "table" then
    return result
  end
  local items = result.items or result
  for i, item in ipairs(items) do
    items[i] = clean_item(item)
  end
  return result
end

return M
