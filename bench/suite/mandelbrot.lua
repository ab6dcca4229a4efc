-- Mandelbrot: escape-time iteration over an n x n grid; pure float arithmetic.
-- Prints the number of points inside and a checksum of iteration counts.
local n = tonumber(arg and arg[1]) or 200
local maxiter = 50
local inside, iters = 0, 0
for y = 0, n - 1 do
  local ci = 2.0 * y / n - 1.0
  for x = 0, n - 1 do
    local cr = 2.0 * x / n - 1.5
    local zr, zi, zr2, zi2 = 0.0, 0.0, 0.0, 0.0
    local k = 0
    while k < maxiter and zr2 + zi2 <= 4.0 do
      zi = 2.0 * zr * zi + ci
      zr = zr2 - zi2 + cr
      zr2, zi2 = zr * zr, zi * zi
      k = k + 1
    end
    if k == maxiter then inside = inside + 1 end
    iters = (iters + k * (x % 13 + 1)) % 1000003
  end
end
io.write(string.format("%dx%d inside %d checksum %d\n", n, n, inside, iters))
