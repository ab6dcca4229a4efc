-- Fill an array (growing it one element at a time), then sum it many times.
local n = tonumber(arg and arg[1]) or 1000000
local t = {}
for i = 1, n do t[#t + 1] = i % 13 end
local total = 0
for round = 1, 20 do
  for i = 1, n do total = total + t[i] end
end
print(total)
