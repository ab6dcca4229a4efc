-- Spectral norm: power iteration on the infinite matrix A(i,j) = 1/((i+j)(i+j+1)/2+i+1)
-- restricted to n x n; dense float loops over arrays.
local n = tonumber(arg and arg[1]) or 100

local function A(i, j)
  local ij = i + j - 2
  return 1.0 / (ij * (ij + 1) * 0.5 + i)
end

local function mul_av(x, y, size)
  for i = 1, size do
    local s = 0
    for j = 1, size do s = s + A(i, j) * x[j] end
    y[i] = s
  end
end

local function mul_atv(x, y, size)
  for i = 1, size do
    local s = 0
    for j = 1, size do s = s + A(j, i) * x[j] end
    y[i] = s
  end
end

local function mul_atav(x, y, t, size)
  mul_av(x, t, size)
  mul_atv(t, y, size)
end

local u, v, t = {}, {}, {}
for i = 1, n do u[i] = 1 end
for _ = 1, 10 do
  mul_atav(u, v, t, n)
  mul_atav(v, u, t, n)
end
local vbv, vv = 0, 0
for i = 1, n do
  vbv = vbv + u[i] * v[i]
  vv = vv + v[i] * v[i]
end
io.write(string.format("%.6f\n", math.sqrt(vbv / vv)))
