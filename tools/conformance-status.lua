-- Rewrites the conformance status line of README.md from a fresh run of LuaJIT's test
-- suite (the line tests/conformance.rs checks). Run from the repository root:
--   target/release/moonjet tools/conformance-status.lua
local MARK = "<!-- conformance-status -->"
local suite = "../shared/conformance/luajit-tests"

local exe = assert(arg[-1], "run this script with the moonjet command")
if not exe:find("^/") then exe = assert(os.getenv("PWD")) .. "/" .. exe end

local p = assert(io.popen("cd " .. suite .. " && '" .. exe .. "' -joff test.lua --quiet 2>&1"))
local out = p:read("*a")
p:close()
local passed, failed = out:match("\n(%d+) passed, (%d+) failed")
if not passed then passed, failed = out:match("(%d+) passed%s*$"), "0" end
assert(passed, "no summary line in the suite's output:\n" .. out:sub(-2000))

-- Known failures of the JIT-off run (the trace/ and opt/ tests run only with the JIT on).
local known = 0
for line in io.lines("conformance/known-failures.txt") do
  local name = line:match("^%d+\t([^\t]+)")
  if name and not name:find("^trace/") and not name:find("^opt/") then known = known + 1 end
end
assert(tonumber(failed) == known, failed .. " failures, but " .. known .. " known failures are listed")

local status = ("%s LuaJIT's test suite (`moonjet -joff test.lua`): `%s passed`, %d known failures"
  .. " ([conformance/known-failures.txt](conformance/known-failures.txt))."):format(MARK, passed, known)

local f = assert(io.open("README.md", "rb"))
local readme = f:read("*a")
f:close()
local lines, found = {}, false
for line in (readme .. "\n"):gmatch("(.-)\n") do
  if line:find(MARK, 1, true) then line, found = status, true end
  lines[#lines + 1] = line
end
assert(found, "README.md has no line with " .. MARK)
if lines[#lines] == "" then lines[#lines] = nil end
f = assert(io.open("README.md", "wb"))
f:write(table.concat(lines, "\n"), "\n")
f:close()
print(status)
