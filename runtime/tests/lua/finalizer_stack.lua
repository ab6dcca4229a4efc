-- Finalizers are Lua code, and may grow (so move) the stack while the code whose
-- allocation ran them goes on: after a table, a closure, a concatenation and a
-- library call returning.
local function deep(n) if n == 0 then return 0 end return 1 + deep(n - 1) end
local ran = 0
local function doomed()
  local p = newproxy(true)
  getmetatable(p).__gc = function() ran = ran + 1 deep(2000 + 100 * ran) end
end
local s = 0
for i = 1, 20000 do
  if i % 500 == 0 then doomed() end
  local t = { i }
  local str = "x" .. i
  local f = function() return i end
  s = s + t[1] + #str + f() + #string.rep("a", 3)
end
collectgarbage()
print(s, ran > 10)
