-- A numeric loop with arithmetic and a branch that changes direction rarely.
local n = tonumber(arg and arg[1]) or 3e7
local s, t = 0, 1
for i = 1, n do
  s = s + i * 2 - t
  if s > 1e12 then s = s - 1e12 end
  t = t * 0.999 + 1
end
print(string.format("%.6f %.6f", s, t))
