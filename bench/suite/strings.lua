-- String building and patterns: concatenation through a buffer table, string.format,
-- gsub with captures and functions, gmatch tokenising, find, rep, byte/char.
local n = tonumber(arg and arg[1]) or 20000

local words = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta" }
local buf = {}
for i = 1, n do
  buf[#buf + 1] = string.format("%s-%d=%s;", words[i % #words + 1], i, words[(i * 7) % #words + 1])
end
local text = table.concat(buf)

-- Tokenise back into key/value pairs and checksum them.
local pairs_seen, keysum = 0, 0
for k, num, v in text:gmatch("(%a+)%-(%d+)=(%a+);") do
  pairs_seen = pairs_seen + 1
  keysum = (keysum + #k * tonumber(num) + #v) % 1000003
end

-- Rewrite with a function replacement and a capture swap.
local swapped, nsub = text:gsub("(%a+)%-(%d+)", "%2:%1")
local upper = swapped:sub(1, 20000):gsub("%a+", function(w) return w:upper() end)

-- Search for a moving needle.
local found = 0
for i = 1, n / 10 do
  local s = text:find("=" .. words[i % #words + 1] .. ";", (i * 37) % #text + 1, true)
  if s then found = found + s % 97 end
end

-- Byte-level work: a rolling hash over a built string.
local h = 0
local line = string.rep("moonjet", 50)
for r = 1, n / 100 do
  for i = 1, #line do h = (h * 31 + line:byte(i) + r) % 2147483647 end
end

local pieces = ""
for i = 1, 2000 do pieces = pieces .. string.char(65 + i % 26) end

io.write(string.format("len %d pairs %d keysum %d subs %d upper %d found %d hash %d tail %s\n",
  #text, pairs_seen, keysum, nsub, #upper, found, h, pieces:sub(-10)))
