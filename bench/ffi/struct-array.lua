-- An array of FFI structs: indexing by number, then fields; n passes over 10000 points.
local ffi = require("ffi")
ffi.cdef[[ typedef struct { float x, y; int32_t id; } bench_point; ]]
local n = tonumber(arg and arg[1]) or 300
local count = 10000
local pts = ffi.new("bench_point[?]", count)
for i = 0, count - 1 do
  pts[i].x = i * 0.5
  pts[i].y = i * 0.25
  pts[i].id = i
end
local sum = 0
for pass = 1, n do
  for i = 0, count - 1 do
    local q = pts[i]
    sum = sum + q.x - q.y + q.id % 7
  end
end
print(sum)
