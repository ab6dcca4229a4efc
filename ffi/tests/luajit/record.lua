-- Records what LuaJIT answers for each declaration in session.txt, in order, in one
-- Lua state (IDs depend on everything declared before). Rewrite the file with:
--     luajit record.lua < session.txt > /tmp/s && mv /tmp/s session.txt
-- Each line is `<cmd> <input> => <answer>`; `\n` in an input is a newline, and in an
-- answer stands for one. Commands: `t` a type string (ffi.typeof: the type's name, ID,
-- size and alignment, or the error), `c` an ffi.cdef (OK or the error).
local ffi = require("ffi")
for line in io.lines() do
  local cmd, input = line:match("^(%a) (.-) => ")
  if not cmd then cmd, input = line:match("^(%a) (.*)$") end
  local src = input:gsub("\\n", "\n")
  local answer
  if cmd == "t" then
    local ok, ct = pcall(ffi.typeof, src)
    if ok then
      local ok_size, size = pcall(ffi.sizeof, ct)
      if not ok_size then size = nil end
      answer = string.format("ctype<%s> #%d size %s align %d", tostring(ct):match("^ctype<(.*)>$"),
        tonumber(ct), size and tostring(size) or "nil", ffi.alignof(ct))
    else
      answer = "ERR " .. ct
    end
  else
    local ok, err = pcall(ffi.cdef, src)
    answer = ok and "OK" or "ERR " .. err
  end
  print(cmd .. " " .. input .. " => " .. answer:gsub("\n", "\\n"))
end
