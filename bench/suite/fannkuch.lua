-- Fannkuch-redux: permutations generated in place, each flipped until its first element
-- is 1; small integer arrays and tight loops.
local n = tonumber(arg and arg[1]) or 9

local perm, perm1, count = {}, {}, {}
for i = 1, n do perm1[i] = i end
local maxflips, checksum, permcount = 0, 0, 0
local r = n

while true do
  while r ~= 1 do count[r] = r; r = r - 1 end
  for i = 1, n do perm[i] = perm1[i] end
  local flips = 0
  local k = perm[1]
  while k ~= 1 do
    local i, j = 1, k
    while i < j do perm[i], perm[j] = perm[j], perm[i]; i = i + 1; j = j - 1 end
    flips = flips + 1
    k = perm[1]
  end
  if flips > maxflips then maxflips = flips end
  if permcount % 2 == 0 then checksum = checksum + flips else checksum = checksum - flips end
  permcount = permcount + 1

  -- Next permutation by rotating prefixes (the standard counting scheme).
  while true do
    if r == n then
      io.write(string.format("%d\nPfannkuchen(%d) = %d\n", checksum, n, maxflips))
      return
    end
    local p0 = perm1[1]
    for i = 1, r do perm1[i] = perm1[i + 1] end
    perm1[r + 1] = p0
    count[r + 1] = count[r + 1] - 1
    if count[r + 1] > 0 then break end
    r = r + 1
  end
end
