-- Rewrite an array in place: each element from itself and its neighbour, with a branch.
local n = tonumber(arg and arg[1]) or 100000
local t = {}
for i = 1, n + 1 do t[i] = i end
for round = 1, 200 do
  for i = 1, n do
    local x = t[i] * 3 + t[i + 1]
    if x > 1e6 then x = x % 1000 end
    t[i] = x
  end
end
local s = 0
for i = 1, n do s = s + t[i] end
print(s)
