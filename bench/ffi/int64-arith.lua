-- 64-bit integer cdata arithmetic: a linear congruential generator and a checksum
-- mixing +, *, %, / and comparisons on int64_t and uint64_t.
local ffi = require("ffi")
local n = tonumber(arg and arg[1]) or 3000000
local state = 88172645463325252ULL
local acc = 0LL
local hi = 0
for i = 1, n do
  state = state * 6364136223846793005ULL + 1442695040888963407ULL
  local k = state / 4294967296ULL
  acc = acc + k % 1000LL - i
  if acc > 1000000LL then acc = acc / 3 end
  if k < 2147483648ULL then hi = hi + 1 end
end
print(state, acc, hi)
