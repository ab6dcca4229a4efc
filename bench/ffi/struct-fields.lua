-- FFI struct field reads and writes in a loop (a particle stepped n times).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { double x, y, vx, vy; int32_t bounces; uint8_t alive; } bench_particle;
]]
local n = tonumber(arg and arg[1]) or 3000000
local p = ffi.new("bench_particle", 0, 0, 1.5, 2.5, 0, 1)
for i = 1, n do
  p.x = p.x + p.vx
  p.y = p.y + p.vy
  if p.x > 1000 then
    p.x = p.x - 1000
    p.bounces = p.bounces + 1
  end
  if p.y > 1000 then p.y = p.y - 1000 end
end
print(p.x, p.y, p.bounces, p.alive)
