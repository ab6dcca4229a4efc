-- Nested while loops: the inner loop is compiled, the outer one runs interpreted.
local n = tonumber(arg and arg[1]) or 3000
local i, total = 0, 0
while i < n do
  local j = 0
  while j < n do
    total = total + (i * j) % 7
    j = j + 1
  end
  i = i + 1
end
print(total)
