-- repeat/until with a data-dependent branch (exits back to the interpreter where it flips).
local n = tonumber(arg and arg[1]) or 300000
local best, arg_best = 0, 0
for start = 1, n do
  local x, c = start, 0
  repeat
    if x % 2 == 0 then x = x / 2 else x = 3 * x + 1 end
    c = c + 1
  until x <= 1
  if c > best then best, arg_best = c, start end
end
print(best, arg_best)
