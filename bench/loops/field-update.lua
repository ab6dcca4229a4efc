-- Objects with fields, globals and upvalues updated in a loop.
local n = tonumber(arg and arg[1]) or 10000000
local p = { x = 0, y = 0, vx = 1, vy = 2 }
count = 0
local steps = 0
local function run()
  for i = 1, n do
    p.x = p.x + p.vx
    p.y = p.y + p.vy
    if p.x > 1000 then p.x = p.x - 1000 count = count + 1 end
    steps = steps + 1
  end
end
run()
print(p.x, p.y, count, steps)
