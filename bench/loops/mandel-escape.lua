-- Escape-time iteration of one point per outer step: a float loop with two exits.
local n = tonumber(arg and arg[1]) or 400
local count = 0
for y = 0, n - 1 do
  local ci = 2 * y / n - 1
  for x = 0, n - 1 do
    local cr = 2.5 * x / n - 2
    local zr, zi, k = 0, 0, 0
    while k < 50 do
      local zr2, zi2 = zr * zr, zi * zi
      if zr2 + zi2 > 4 then break end
      zi = 2 * zr * zi + ci
      zr = zr2 - zi2 + cr
      k = k + 1
    end
    count = count + k
  end
end
print(count)
