-- Hash tables with string keys: generate a pseudo-random text, count word frequencies,
-- grow and shrink a table of entries, then report the top words in a total order
-- (count, then word) so the result never depends on pairs() order.
local n = tonumber(arg and arg[1]) or 100000

local seed = 7
local function rand(m)
  seed = (seed * 16807) % 2147483647
  return seed % m
end

local syll = { "ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "zen", "po", "qua", "de" }
local function word()
  local parts = {}
  for i = 1, 1 + rand(3) do parts[i] = syll[1 + rand(#syll)] end
  return table.concat(parts)
end

local freq, distinct = {}, 0
for _ = 1, n do
  local w = word()
  local c = freq[w]
  if c == nil then distinct = distinct + 1; freq[w] = 1 else freq[w] = c + 1 end
end

-- Churn: insert numbered keys, then delete every other one, then count what is left.
local churn = {}
for i = 1, n do churn["k" .. i] = i end
for i = 1, n, 2 do churn["k" .. i] = nil end
local left, lsum = 0, 0
for _, v in pairs(churn) do left = left + 1; lsum = lsum + v end

local list = {}
for w, c in pairs(freq) do list[#list + 1] = { w = w, c = c } end
table.sort(list, function(a, b) if a.c ~= b.c then return a.c > b.c end return a.w < b.w end)
local top = {}
for i = 1, 5 do top[i] = list[i].w .. "=" .. list[i].c end
io.write(string.format("distinct %d left %d lsum %d top %s\n", distinct, left, lsum, table.concat(top, ",")))
