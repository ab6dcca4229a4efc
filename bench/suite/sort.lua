-- Sorting: table.sort with and without a comparator, plus a hand-written merge sort
-- and quicksort over pseudo-random data from a Park-Miller generator.
local n = tonumber(arg and arg[1]) or 100000

local seed = 42
local function rand(m)
  seed = (seed * 16807) % 2147483647
  return seed % m
end

local function checksum(t)
  local h = 0
  for i = 1, #t, 7 do h = (h * 31 + t[i]) % 1000003 end
  return h
end

local function issorted(t, lt)
  for i = 2, #t do if lt(t[i], t[i - 1]) then return false end end
  return true
end

local function merge_sort(t, lo, hi, tmp)
  if hi - lo < 1 then return end
  local mid = math.floor((lo + hi) / 2)
  merge_sort(t, lo, mid, tmp)
  merge_sort(t, mid + 1, hi, tmp)
  local i, j, k = lo, mid + 1, lo
  while i <= mid and j <= hi do
    if t[j] < t[i] then tmp[k] = t[j]; j = j + 1 else tmp[k] = t[i]; i = i + 1 end
    k = k + 1
  end
  while i <= mid do tmp[k] = t[i]; i = i + 1; k = k + 1 end
  while j <= hi do tmp[k] = t[j]; j = j + 1; k = k + 1 end
  for x = lo, hi do t[x] = tmp[x] end
end

local function quick_sort(t, lo, hi)
  while lo < hi do
    local p = t[math.floor((lo + hi) / 2)]
    local i, j = lo, hi
    while i <= j do
      while t[i] < p do i = i + 1 end
      while t[j] > p do j = j - 1 end
      if i <= j then t[i], t[j] = t[j], t[i]; i = i + 1; j = j - 1 end
    end
    -- Recurse into the smaller half to bound the stack.
    if j - lo < hi - i then quick_sort(t, lo, j); lo = i else quick_sort(t, i, hi); hi = j end
  end
end

local base = {}
for i = 1, n do base[i] = rand(1000000) end
local function copy() local c = {}; for i = 1, n do c[i] = base[i] end; return c end
local lt = function(a, b) return a < b end
local gt = function(a, b) return a > b end

local a = copy(); table.sort(a)
local b = copy(); table.sort(b, gt)
local c = copy(); merge_sort(c, 1, n, {})
local d = copy(); quick_sort(d, 1, n)
-- Records sorted by two keys; ties broken by index so the order is total.
local recs = {}
for i = 1, n / 4 do recs[i] = { k = rand(100), id = i } end
table.sort(recs, function(x, y) if x.k ~= y.k then return x.k < y.k end return x.id < y.id end)
local rsum = 0
for i = 1, #recs, 13 do rsum = (rsum + recs[i].id * i) % 1000003 end

io.write(string.format("sorted %s %s %s %s sums %d %d %d %d recs %d\n",
  tostring(issorted(a, lt)), tostring(issorted(b, gt)), tostring(issorted(c, lt)), tostring(issorted(d, lt)),
  checksum(a), checksum(b), checksum(c), checksum(d), rsum))
