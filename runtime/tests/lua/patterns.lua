-- patterns.lua: find, match, gmatch, gsub and pattern errors

-- find: plain and pattern
print("find plain", string.find("a.b.c", ".", 1, true))
print("find plain2", string.find("a+b", "+", 1, true))
print("find plain3", string.find("abc", "[a", 1, true))
print("find pattern", string.find("a.b.c", "."))
print("find pattern2", string.find("hello world", "o w"))
print("find captures", string.find("THE (quick) fox", "%((%a+)%)"))
print("find none", string.find("abc", "x"))
print("find special ) plain", string.find("a)c", "a)"))
print("find init", string.find("abcabc", "b", 3))
print("find init neg", string.find("abcabc", "b", -2))
print("find init neg big", string.find("abc", "a", -10))
print("find init 0", string.find("aaa", "a", 0))
print("find init past", string.find("abc", "b", 10))
print("find empty past", string.find("abc", "", 10))
print("find empty at end", string.find("abc", "", 4))
print("find empty mid", string.find("abc", "", 3))
print("find empty empty", string.find("", ""))
print("find empty empty 2", string.find("", "", 2))
print("find float init", string.find("abc", "b", 1.9))
print("find str init", string.find("abc", "b", "2"))
print("find anchor", string.find("abcabc", "^abc"), string.find("xabc", "^abc"))
print("find anchor init", string.find("abcabc", "^abc", 4))
print("find end anchor", string.find("abcabc", "abc$"))
print("find dollar mid", string.find("a$b", "a$b"))
print("find nul", string.find("a\0b", "\0"), string.find("a\0b", "%z"))

-- match: captures
print("match", string.match("key=val", "(%w+)=(%w+)"))
print("match nested", string.match("abc", "((a)(b))"))
print("match whole", string.match("hello 123", "%d+"))
print("match pos", string.match("  x", "()x()"))
print("match pos only", string.match("x", "()"))
print("match empty", "[" .. string.match("", ".*") .. "]", string.match("", ".+"))
print("match date", string.match("2024-01-15", "(%d+)-(%d+)-(%d+)"))
print("match backref", string.match("hello hello", "(h%a+) %1"))
print("match backref2", string.match("abab", "(ab)%1"), string.match("abac", "(ab)%1"))
print("match quote", string.match([[say "hi" and 'bye']], "([\"'])(.-)%1"))
print("match lazy", string.match("hello", ".-(l+)(.*)"))
print("match greedy", string.match("<a><b>", "<(.*)>"), string.match("<a><b>", "<(.-)>"))
print("match optional", string.match("color", "colou?r"), string.match("colour", "colou?r"))
print("match minus", string.match("aaa", "a-b"), string.match("aaab", "a-b"))
print("match trim", string.match("  trim me  ", "^%s*(.-)%s*$") .. "|")
print("match hex", string.match("0x1F", "^0[xX](%x+)$"))
print("match classes", string.match("abc123", "%a+%d+$"), string.match("A1_b", "[%w_]+"))
print("match class neg", string.match("abc 123", "%S+"), string.match("abc123", "%D+"), string.match("  x", "%S"))
print("match punct", string.match("hi, there!", "%p"), string.match("a\tb", "%c") == "\t")
print("match upper lower", string.match("abcDEF", "%u+"), string.match("ABCdef", "%l+"))
print("match set range", string.match("b", "[a-c]"), string.match("-", "[a-]"), string.match("-", "[%a-z]"))
print("match set bracket", string.find("abc", "[]]"), string.find("a]c", "[]]"))
print("match set neg", string.find("abc1", "[^%a]"), string.match("xyz", "[^x]+"))
print("match set escape", string.find("a-c", "[a%-]", 2))
print("match init", string.match("abcabc", "a(.)", 2), string.match("abc", "c", -1))
print("match anchored", string.match("abc", "^b"), string.match("abc", "^a"))
print("match nul class", string.match("a\0b", "[%z]") == "\0", #string.match("x\0\0y", "%z+"))
print("match %g", string.match("  ab c", "%g+"))

-- %b and %f
print("balance", string.match("[[x]]", "%b[]"), string.match("f(a(b)c)d", "%b()"), string.match("((", "%b()"))
print("balance same", string.match("'a'b'", "%b''"))
print("frontier", string.gsub("THE (quick) fox", "%f[%a]%a+", "W"))
print("frontier end", string.gsub("hello world", "%f[%A]", "|"))
print("frontier words", string.match("the cat sat", "%f[%w]c%w+"))
print("frontier start", string.find("abc", "%f[%a]"), string.find("1abc", "%f[%a]"))

-- gmatch
local out = {}
for w in string.gmatch("one two  three", "%a+") do out[#out + 1] = w end
print("gmatch words", table.concat(out, ","), #out)
out = {}
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do out[#out + 1] = k .. v end
print("gmatch pairs", table.concat(out, ";"))
out = {}
for p in string.gmatch("abc", "()") do out[#out + 1] = p end
print("gmatch positions", table.concat(out, ","))
out = {}
for c in string.gmatch("abc", "^.") do out[#out + 1] = c end
print("gmatch anchored", #out)
out = {}
for c in string.gmatch("a^b^c", "^.") do out[#out + 1] = c end
print("gmatch caret literal", table.concat(out, ","))
out = {}
for a in string.gmatch("x1y22z333", "%d*") do out[#out + 1] = "[" .. a .. "]" end
print("gmatch empty matches", table.concat(out))
out = {}
for a, b in string.gmatch("k1=v1;k2=v2", "(%w+)=()") do out[#out + 1] = a .. "@" .. b end
print("gmatch pos capture", table.concat(out, " "))
local it = string.gmatch("a b", "%a")
print("gmatch manual", it(), it(), it())

-- gsub: string replacements
print("gsub", string.gsub("hello world", "o", "0"))
print("gsub %0", string.gsub("abc", "%w", "%0%0"))
print("gsub captures", string.gsub("one two three", "(%w+)", "<%1>"))
print("gsub reorder", string.gsub("one", "(o)(n)(e)", "%3%2%1%0"))
print("gsub %1 no capture", string.gsub("abc", "%w", "%1"))
print("gsub %%", string.gsub("abc", "b", "%%"))
print("gsub %x literal", string.gsub("abc", "a", "%x"))
print("gsub empty pat", string.gsub("hello", "", "."))
print("gsub star", string.gsub("abc", "b*", "X"))
print("gsub anchors", string.gsub("abc", "^", ">"), string.gsub("abc", "$", "<"))
print("gsub anchor once", string.gsub("aaa", "^a", "b"))
print("gsub ws", ("x y  z"):gsub("%s+", "_"))
print("gsub pos capture", string.gsub("abc", "()", "%1"))
print("gsub n", string.gsub("aaaa", "a", "b", 2))
print("gsub n 0", string.gsub("aaaa", "a", "b", 0))
print("gsub n neg", string.gsub("aaaa", "a", "b", -1))
print("gsub n float", string.gsub("aaaa", "a", "b", 2.7))
print("gsub special chars", string.gsub("a.b.c", "%.", "%%"))
print("gsub number repl", string.gsub("abc", "b", 5))

-- gsub: table replacements
print("gsub table", string.gsub("hello world", "%w+", {hello = "HI", world = false}))
print("gsub table capture", string.gsub("$a + $b", "%$(%w+)", {a = 1, b = 2.5}))
print("gsub table miss", string.gsub("abc", ".", {a = "A"}))
print("gsub table bad", pcall(string.gsub, "abc", ".", {a = {}}))
print("gsub table bool", pcall(string.gsub, "abc", ".", {a = true}))

-- gsub: function replacements
print("gsub fn", string.gsub("abc", ".", function(c) return c:upper() .. "." end))
print("gsub fn nil", string.gsub("abc", ".", function(c) if c == "b" then return nil end return c:upper() end))
print("gsub fn false", string.gsub("abc", ".", function() return false end))
print("gsub fn number", string.gsub("abc", ".", function() return 5 end))
print("gsub fn captures", string.gsub("k1=v1 k2=v2", "(%w+)=(%w+)", function(k, v) return v .. "=" .. k end))
print("gsub fn pos", string.gsub("ab", "()", function(p) return "<" .. p .. ">" end))
print("gsub fn bad", pcall(string.gsub, "abc", ".", function() return {} end))
local calls = 0
string.gsub("aaaaa", "a", function() calls = calls + 1 end, 3)
print("gsub fn calls", calls)

-- errors from malformed patterns
local bad = {"%", "[a", "(a", "%b", "%bx", "%f", "%fa", "(()", "%1", "(a)%2", "[%", "[^", "((a)", "a%",
  "[a-", "%0", "a)"}
for _, p in ipairs(bad) do
  local ok, err = pcall(string.match, "abc", p)
  print("bad pattern", p, ok, err)
end
print("bad repl capture", pcall(string.gsub, "abc", "(a)", "%2"))
print("bad repl type", pcall(string.gsub, "abc", "a", true))
print("too many captures", pcall(string.match, string.rep("a", 40), string.rep("(a)", 33)))
print("find bad", pcall(string.find, "abc", "[a"))
print("gmatch bad", pcall(function() for x in string.gmatch("abc", "%") do end end))
print("gsub bad", pcall(string.gsub, "abc", "(", "x"))
