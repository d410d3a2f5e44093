-- Scripts that misbehave on purpose, chosen by the recipient or subject.
local stash
local function recurse(n) return recurse(n + 1) + 1 end

mta.on("rcpt", function(s, rcpt)
  local l = rcpt:match("^([^@]+)")
  if l == "loop" then while true do end end
  if l == "deep" then return recurse(1) end
  if l == "huge" then local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1024) end end
  if l == "error" then error("broken rcpt handler") end
  -- Exponential backtracking on text the client chose.
  if l:sub(1, 4) == "evil" then return rcpt:find((".-"):rep(24) .. "b") end
end)

mta.on("cleanup", function(msg)
  local subject = msg:header("Subject") or ""
  if subject == "boom" then error("broken cleanup handler") end
  if subject == "stash" then stash = msg end
  if subject == "use stash" and stash then stash:add_header("X-Late", "1") end
end)
