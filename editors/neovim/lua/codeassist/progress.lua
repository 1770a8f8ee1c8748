-- Saying what the server is doing (codeassist/status): Neovim's progress messages where they
-- exist (0.12+), else one echo line with a spinner; never a hit-enter prompt.
local compat = require("codeassist.compat")

local M = {}

local BUSY = { starting = true, indexing = true, model_loading = true, generating = true }
local DOING = { completion = "completing", review = "reviewing", refactor = "refactoring" }
local SPINNER = { "⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏" }

--- The short text for a status (pure): "model loading 42%", "reviewing: thinking, 120 tokens".
function M.describe(status)
  local state = status.state or ""
  local what
  if state == "generating" then
    what = DOING[status.task] or "generating"
  else
    what = state:gsub("_", " ")
  end
  if type(status.percentage) == "number" then
    what = ("%s %d%%"):format(what, status.percentage)
  end
  local message = status.message or ""
  if message ~= "" and message ~= "ready" then
    what = what .. ": " .. message
  end
  return "codeassist: " .. what
end

--- Whether a state means work is under way.
function M.busy(status)
  return status ~= nil and BUSY[status.state] == true
end

-- what is on screen: the text shown last (tests read it), the spinner, the progress id
M.shown = nil
M.history = {}
local current = nil
local timer = nil
local frame = 0
local progress_id = nil

local function has_progress_messages()
  return compat.has("0.12")
end

local function fit(text)
  local room = math.max(10, (vim.v.echospace or 60) - 1)
  if vim.fn.strdisplaywidth(text) > room then
    text = vim.fn.strcharpart(text, 0, room - 1) .. "…"
  end
  return text
end

local function draw()
  if current == nil then
    return
  end
  local text = M.describe(current)
  local busy = M.busy(current)
  if has_progress_messages() then
    local opts = { kind = "progress", title = "codeassist", status = busy and "running" or "success" }
    if type(current.percentage) == "number" then
      opts.percent = current.percentage
    end
    if progress_id ~= nil then
      opts.id = progress_id
    end
    local ok, id = pcall(vim.api.nvim_echo, { { (text:gsub("^codeassist: ", "")) } }, false, opts)
    if ok then
      progress_id = busy and id or nil
    end
  elseif vim.api.nvim_get_mode().mode:sub(1, 1) ~= "c" then
    local line = busy and (SPINNER[frame % #SPINNER + 1] .. " " .. text) or text
    vim.api.nvim_echo({ { fit(line), busy and "ModeMsg" or "Normal" } }, false, {})
  end
  M.shown = text
end

local function stop_timer()
  if timer ~= nil then
    timer:stop()
    timer:close()
    timer = nil
  end
end

--- Shows a codeassist/status notification; called for each one the server sends.
function M.update(status)
  local previous = current
  current = status
  table.insert(M.history, M.describe(status))
  if #M.history > 200 then
    table.remove(M.history, 1)
  end
  if M.busy(status) then
    if timer == nil and not has_progress_messages() then
      timer = vim.loop.new_timer()
      timer:start(120, 120, vim.schedule_wrap(function()
        frame = frame + 1
        draw()
      end))
    end
    draw()
    return
  end
  stop_timer()
  if status.state == "ready" and previous ~= nil and M.busy(previous) then
    -- work finished: say so briefly, then clear the line
    draw()
    vim.defer_fn(function()
      if current == status and not has_progress_messages() and vim.api.nvim_get_mode().mode:sub(1, 1) ~= "c" then
        vim.api.nvim_echo({ { "" } }, false, {})
      end
    end, 1500)
  elseif status.state ~= "ready" then
    draw() -- a problem stays in the echo line; its full text came as a message
  end
end

--- A statusline component: "" when idle, else what is happening.
function M.statusline()
  if current == nil or current.state == "ready" then
    return ""
  end
  return M.describe(current)
end

return M
