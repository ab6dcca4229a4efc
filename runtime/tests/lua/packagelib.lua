-- package and require (deterministic: no absolute paths, no file found).
print(type(package), type(require), type(module))
print(type(package.path), type(package.cpath), package.path:find("./?.lua", 1, true) ~= nil)
print(package.config == "/\n;\n?\n!\n-\n")
print(type(package.loaded), type(package.preload), type(package.loaders), #package.loaders)
print(type(package.searchpath), type(package.seeall), type(package.loadlib))
for _, n in ipairs{"_G", "string", "table", "math", "coroutine", "io", "os", "debug", "bit", "jit", "package"} do
  print(n, package.loaded[n] == _G[n])
end
print(require("string") == string, require("_G") == _G)

-- preload, the name passed as argument, result stored
local calls = 0
package.preload.mymod = function(...)
  calls = calls + 1
  return { args = select("#", ...), name = (...) }
end
local m = require("mymod")
print(m.args, m.name, package.loaded.mymod == m, require("mymod") == m, calls)

-- a nil result becomes true
package.preload.nilmod = function() end
print(require("nilmod"), package.loaded.nilmod)
-- a module that sets package.loaded itself
package.preload.selfmod = function(name) package.loaded[name] = "mine" end
print(require("selfmod"))

-- errors
package.path = "nonexistent_dir/?.lua;nonexistent_dir/?/init.lua"
package.cpath = "nonexistent_dir/?.so"
print(pcall(require, "nope"))
print(pcall(require, "a.b"))
package.preload.boom = function() error("boom!", 0) end
print(pcall(require, "boom"))
print(pcall(require, "boom"))
package.preload.loop = function() return require("loop") end
print(pcall(require, "loop"))

-- searchpath
print(package.searchpath("x.y", "nonexistent_dir/?.lua;;nonexistent_dir/?/z"))
print(package.searchpath("x.y", "nonexistent_dir/?.lua", "", "/"))
print(package.searchpath("x-y", "nonexistent_dir/?.lua", "-", "_"))

-- loaders can be replaced
local saved = package.loaders
package.loaders = { function(n) return "\n\tcustom " .. n end }
print(pcall(require, "zz"))
package.loaders = saved

-- seeall
local t = {}
package.seeall(t)
print(t.print == print, getmetatable(t).__index == _G)

-- table.new / table.clear
local tn = require("table.new")
print(type(tn), tn == table.new)
local a = table.new(10, 5)
print(type(a), #a, next(a))
a[1], a[2], a.x = 1, 2, 3
print(#a, a.x)
print(pcall(table.new))
print(pcall(table.new, 1))
print(pcall(table.new, "x", 1))
local tc = require("table.clear")
print(type(tc), tc == table.clear)
local c = { 1, 2, 3, x = 1, y = 2 }
table.clear(c)
print(#c, next(c))
c[1], c.x = "a", "b"
print(c[1], c.x)
print(pcall(table.clear, 1))

-- module (5.1)
package.preload["my.mod"] = function(...)
  module(..., package.seeall)
  function hello() return _NAME .. "|" .. _PACKAGE .. "|" .. tostring(print ~= nil) end
  value = 42
end
local mm = require("my.mod")
print(mm.hello(), mm.value, mm._M == mm, my.mod == mm, value)
string.zz = 1
print(pcall(module, "string.zz"))

-- modules found on package.path (files written to a temporary place)
local base = os.tmpname()
local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end
write(base .. "_found.lua", "local name, path = ... return { name = name, ext = path and path:match('%.lua$') }")
write(base .. "_broken.lua", "return {")
write(base .. "_cyc.lua", "return require('cyc')")
local saved = package.path
package.path = base .. "_?.lua"
local found = require("found")
print(found.name, found.ext, package.loaded.found == found)
print(package.searchpath("found", package.path) == base .. "_found.lua")
local ok, e = pcall(require, "broken")
print(ok, (e:gsub(base:gsub("%p", "%%%0"), "BASE")))
ok, e = pcall(require, "cyc")
print(ok, e)
ok, e = pcall(require, "absent")
print(ok, (e:gsub(base:gsub("%p", "%%%0"), "BASE")))
package.path = saved
for _, n in ipairs { "_found.lua", "_broken.lua", "_cyc.lua" } do os.remove(base .. n) end
os.remove(base)
