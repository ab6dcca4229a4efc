-- basics.lua: arithmetic, coercion, control flow, closures, varargs

-- arithmetic
print("arith", 1 + 2, 7 - 10, 6 * 7, 7 / 2, 2 ^ 10, 2 ^ 0.5)
print("mod", 7 % 3, -7 % 3, 7 % -3, -7 % -3, 5.5 % 2, -5.5 % 2)
print("mod float", 3.25 % 1, -3.25 % 1, 1e308 % 3 >= 0)
print("mod inf", 5 % math.huge, -5 % math.huge, math.huge % 2)
print("div zero", 1 / 0, -1 / 0, 0 / 0 ~= 0 / 0)
local z = 0
print("neg zero", -z, 0 * -1, -z == 0, 1 / -z)
print("neg zero concat", -z .. "", tostring(-z))
print("nan", tostring(0 / 0) == tostring(-(0 / 0)))
print("int doubles", 3.0, -2.0, 1e15, 1e16, 1e17, 2 ^ 53, 2 ^ 53 + 1, 2 ^ 63)
print("fractions", 0.1 + 0.2, 0.1 + 0.2 == 0.3, 1 / 3, 100 / 3, 2 / 3)
print("small", 1e-5, 1e-300, 5e-324, 123.456e-2)
print("big", 1e100, 123456789012, 12345678901234, 123456789012345678)
print("precedence", 2 + 3 * 4, (2 + 3) * 4, -2 ^ 2, 2 ^ 3 ^ 2, -3 % 5)
print("unary", - -3, not nil, not 0, #"abc", -"2", - "0x10")

-- comparisons
print("cmp num", 1 < 2, 2 <= 2, 3 > 4, 3 >= 3, 1 == 1.0, 1 ~= 1)
print("cmp str", "a" < "b", "abc" < "abd", "Z" < "a", "" < "a", "10" < "9")
print("cmp nan", 0 / 0 < 1, 0 / 0 > 1, 0 / 0 == 0 / 0, 0 / 0 ~= 0 / 0)
print("cmp mixed eq", 1 == "1", "1" == 1, nil == false, {} == {})

-- coercion
print("coerce", "10" + 5, "3" * "4", "0x10" + 0, " 2 " * 3, "1e2" - 1)
print("coerce2", 10 .. 20, 1.5 .. "", 2 ^ 53 .. "", 1e100 .. "x")
print(1 .. 2, 3 .. "", -1 .. -2)
print("concat", "a" .. "b" .. "c", "x" .. 1 .. 2.5)
print("tostring", tostring(12), tostring(12.5), tostring(-0.0), tostring(true), tostring(nil))

-- tonumber
print("tonumber", tonumber("10"), tonumber(" 10 "), tonumber("10.5"), tonumber("  -7  "))
print("tonumber hex", tonumber("0x10"), tonumber("0X1f"), tonumber("-0x10"), tonumber("0x1p4"))
print("tonumber exp", tonumber("1e2"), tonumber("1E-2"), tonumber(".5"), tonumber("5."))
print("tonumber bad", tonumber("1e"), tonumber("0x"), tonumber(""), tonumber(" "), tonumber("abc"))
print("tonumber bad2", tonumber("1 2"), tonumber("1e+"), tonumber("--1"), tonumber("0x1g"))
print("tonumber inf", tonumber("inf"), tonumber("nan"), tonumber("-inf"), tonumber("1e999"))
print("tonumber base", tonumber("ff", 16), tonumber("FF", 16), tonumber("777", 8), tonumber("z", 36))
print("tonumber base2", tonumber("101", 2), tonumber("102", 2), tonumber("zz", 36), tonumber("8", 8))
print("tonumber base3", tonumber("  11  ", 2), tonumber("-ff", 16), tonumber("", 10))
print("tonumber misc", tonumber(42), tonumber(nil), tonumber(true), tonumber({}) == nil)

-- type
print("type", type(1), type("s"), type(nil), type(true), type({}), type(print), type(type),
  type(coroutine.create(function() end)))

-- logical operators
print("and/or", nil and 1, false and 1, 1 and 2, nil or "d", false or nil, 0 or 1, "" and "e")
print("and/or chain", 1 and nil or 3, nil or false, false or false and 1, 1 or error("no"))
local function pick(x) return x > 0 and "pos" or x < 0 and "neg" or "zero" end
print("pick", pick(5), pick(-5), pick(0))

-- while / repeat
local i, s = 0, 0
while i < 10 do i = i + 1; if i % 2 == 0 then s = s + i end end
print("while", i, s)
local n = 0
repeat local k = n; n = n + 1 until k >= 4
print("repeat scope", n)
i = 0
while true do i = i + 1; if i > 6 then break end end
print("break", i)

-- numeric for
local t = {}
for x = 1, 3 do t[#t + 1] = x end
for x = 10, 1, -3 do t[#t + 1] = x end
for x = 0, 1, 0.25 do t[#t + 1] = x end
for x = 1, 0 do t[#t + 1] = "never" end
for x = 1.5, -1, -1 do t[#t + 1] = x end
print("for", table.concat(t, " "))
local cnt = 0
for x = 0, 1, 0.1 do cnt = cnt + 1 end
print("float step count", cnt)
for x = 1, 3 do x = x * 10; t[#t + 1] = x end
print("for var local copy", t[#t - 2], t[#t - 1], t[#t])
cnt = 0
for x = "1", "3" do cnt = cnt + 1 end
print("for string coercion", cnt)
cnt = 0
for x = 1, math.huge do cnt = cnt + 1; if cnt == 5 then break end end
print("for huge", cnt)

-- generic for
local words = {"a", "b", "c"}
local acc = {}
for idx, w in ipairs(words) do acc[#acc + 1] = idx .. "=" .. w end
print("ipairs", table.concat(acc, ","))
local function range(m)
  return function(_, last) if last < m then return last + 1 end end, nil, 0
end
acc = {}
for v in range(4) do acc[#acc + 1] = v end
print("custom iter", table.concat(acc, ","))

-- goto
do
  local k = 1
  ::top::
  if k < 5 then k = k + 1; goto top end
  print("goto loop", k)
end
for a = 1, 3 do
  for b = 1, 3 do
    if b == 2 then goto continue end
    io.write(a, b, " ")
    ::continue::
  end
end
print()

-- varargs
local function va(...)
  return select('#', ...), ...
end
print("va", va())
print("va", va(nil, nil))
print("va", va(1, nil, 3))
print("select neg", select(-1, 1, 2, 3), select(-2, "a", "b", "c"))
print("select 2", select(2, "a", "b", "c"))
local function pack2(...) return {n = select("#", ...), ...} end
local p = pack2(1, nil, nil)
print("pack n", p.n, p[1], p[2], p[3])
local function trunc(...) local a, b = ... return a, b end
print("trunc", trunc(1, 2, 3))
print("adjust", (va(1, 2)))
local function mid(...) return ..., "end" end
print("mid", mid(1, 2, 3))
print("in table", #{va(1, 2)}, #{va(1, 2), "x"})

-- multiple assignment
local a, b, c = 1, 2
print("multi", a, b, c)
a, b = b, a
print("swap", a, b)
local arr = {}
local idx = 1
idx, arr[idx] = idx + 1, "v"
print("eval order", idx, arr[1], arr[2])
local q = {1, 2, 3}
local j = 1
j, q[j] = 2, 99
print("eval order2", j, q[1], q[2])
local x1, x2, x3 = (function() return 1, 2, 3 end)()
print("call expand", x1, x2, x3)
local y1, y2 = ((function() return 1, 2 end)())
print("paren truncates", y1, y2)

-- closures and upvalues
local function counter()
  local c = 0
  return function() c = c + 1; return c end, function() return c end
end
local inc, get = counter()
inc(); inc()
print("shared upvalue", get(), inc(), get())
local fns = {}
for k = 1, 3 do fns[k] = function() return k end end
print("fresh loop locals", fns[1](), fns[2](), fns[3]())
fns = {}
local w = 1
while w <= 3 do local cw = w; fns[w] = function() return cw * 10 end; w = w + 1 end
print("while locals", fns[1](), fns[2](), fns[3]())
local function outer()
  local v = 1
  local function mid()
    local function inner() v = v + 10; return v end
    return inner
  end
  return mid(), function() return v end
end
local f1, f2 = outer()
f1()
print("nested upvalue", f2(), f1(), f2())

-- recursion
local function fact(m) if m <= 1 then return 1 end return m * fact(m - 1) end
print("fact", fact(10), fact(20), fact(25))
local function fib(m) if m < 2 then return m end return fib(m - 1) + fib(m - 2) end
print("fib", fib(20))
local function tail(m, acc2) if m == 0 then return acc2 end return tail(m - 1, acc2 + 1) end
print("tail 100000", tail(100000, 0))
local even, odd
function even(m) if m == 0 then return true end return odd(m - 1) end
function odd(m) if m == 0 then return false end return even(m - 1) end
print("mutual tail", even(100001), odd(100001))

-- string escapes
print("esc", "a\tb", "q\"q", 'q\'q', "back\\slash", "\65\066\0671", "x\z
      y", #"\0\0", "\x41\x62")
print("esc2", #"\n", "line1\nline2", "\97\98\99", #[[
abc]], [==[a]]b]==])
