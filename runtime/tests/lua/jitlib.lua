-- jitlib.lua: the jit module's surface that does not depend on having a JIT
print("version level", jit.version:match("%d+%.%d+"), jit.version_num)
print("platform", jit.arch, jit.os)
print("status type", type(jit.status()))
print("security", jit.security("prng"), jit.security("strhash"), pcall(jit.security, "nope"))
for _, a in ipairs({"3", 7, "fold", "-cse", "+dce", "nofwd", "hotloop=10", "hotexit=", "maxside=100",
                    "O", "O3", "-O3", "+nofold", "-nofold", "hotloop=-1", "hotloop=1x", "bogus=1", "", "Ofold"}) do
  print("opt", a, pcall(jit.opt.start, a))
end
print("opt table", pcall(jit.opt.start, {}))
print("opt none", pcall(jit.opt.start))
print("on/off", pcall(jit.on), pcall(jit.on, function() end, true))
print("on true from pcall", pcall(jit.on, true))
local function f() jit.off(true) jit.on(true) return "ok" end
print("on true from Lua", f())
print("on number", pcall(jit.on, 1))
print("off native", pcall(jit.off, print))
print("flush", pcall(jit.flush), pcall(jit.flush, 1), pcall(jit.flush, "x"))
