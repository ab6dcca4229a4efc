-- Calls of small C functions through ffi.C in a loop: abs (int) and sqrt (double).
local ffi = require("ffi")
ffi.cdef[[ int abs(int); double sqrt(double); ]]
local C = ffi.C
local n = tonumber(arg and arg[1]) or 3000000
local isum, fsum = 0, 0
for i = 1, n do
  isum = isum + C.abs(500 - i % 1000)
  fsum = fsum + C.sqrt(i)
end
print(isum, string.format("%.6f", fsum))
