-- N-queens by backtracking with boolean column/diagonal arrays: recursion, array
-- reads and writes, branchy control flow. Counts all solutions for boards up to n.
local n = tonumber(arg and arg[1]) or 9

local function solve(size)
  local cols, d1, d2 = {}, {}, {}
  local count = 0
  local function place(row)
    if row > size then count = count + 1; return end
    for c = 1, size do
      local a, b = row + c, row - c + size
      if not cols[c] and not d1[a] and not d2[b] then
        cols[c], d1[a], d2[b] = true, true, true
        place(row + 1)
        cols[c], d1[a], d2[b] = false, false, false
      end
    end
  end
  place(1)
  return count
end

local out = {}
for size = 4, n do out[#out + 1] = string.format("%d:%d", size, solve(size)) end
io.write(table.concat(out, " "), "\n")
