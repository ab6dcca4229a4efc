-- Recursion: naive Fibonacci, Takeuchi's function and Ackermann; call-heavy with
-- little work per frame.
local n = tonumber(arg and arg[1]) or 27

local function fib(k)
  if k < 2 then return k end
  return fib(k - 1) + fib(k - 2)
end

local function tak(x, y, z)
  if y >= x then return z end
  return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))
end

local function ack(m, k)
  if m == 0 then return k + 1 end
  if k == 0 then return ack(m - 1, 1) end
  return ack(m - 1, ack(m, k - 1))
end

local f = fib(n)
local t = tak(n - 9, math.floor(n / 2), 3)
local a = ack(2, n * 20)
io.write(string.format("fib %d tak %d ack %d\n", f, t, a))
