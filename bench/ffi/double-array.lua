-- A double[?] array filled and summed n times (FFI array loads and stores).
local ffi = require("ffi")
local n = tonumber(arg and arg[1]) or 100
local count = 1000000
local a = ffi.new("double[?]", count)
local total = 0
for pass = 1, n do
  for i = 0, count - 1 do
    a[i] = i * 0.5 + pass
  end
  local s = 0
  for i = 0, count - 1 do
    s = s + a[i]
  end
  total = total + s
end
print(total)
