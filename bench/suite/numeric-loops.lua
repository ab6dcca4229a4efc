-- Numeric loops: nested for-loops over integer and float arithmetic, a sieve-free
-- prime count by trial division, and a polynomial evaluated on a grid.
local n = tonumber(arg and arg[1]) or 3000

-- Integer work kept below 2^31 so every engine agrees exactly.
local acc = 0
for i = 1, n do
  for j = 1, 200 do
    acc = (acc + i * j + (i % 7) * (j % 11)) % 1000003
  end
end

local primes = 0
for k = 2, n * 10 do
  local p = true
  local d = 2
  while d * d <= k do
    if k % d == 0 then p = false; break end
    d = d + 1
  end
  if p then primes = primes + 1 end
end

local s = 0.0
for i = 0, n - 1 do
  local x = i / n
  for j = 0, 99 do
    local y = j / 100
    s = s + ((x * 3 - 2) * x + y) * y - x * 0.5
  end
end

io.write(string.format("acc %d primes %d poly %.6f\n", acc, primes, s))
