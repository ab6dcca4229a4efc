-- Method calls on objects: a small class hierarchy with metatables and __index
-- chains, self-calls and a vector type with arithmetic metamethods.
local n = tonumber(arg and arg[1]) or 200000

local Shape = {}
Shape.__index = Shape
function Shape.new(kind) return setmetatable({ kind = kind, moved = 0 }, Shape) end
function Shape:move(d) self.moved = self.moved + d; return self end
function Shape:describe() return self:area() + self:perimeter() end

local Rect = setmetatable({}, { __index = Shape })
Rect.__index = Rect
function Rect.new(w, h)
  local r = Shape.new("rect"); r.w = w; r.h = h
  return setmetatable(r, Rect)
end
function Rect:area() return self.w * self.h end
function Rect:perimeter() return 2 * (self.w + self.h) end

local Square = setmetatable({}, { __index = Rect })
Square.__index = Square
function Square.new(s) local q = Rect.new(s, s); q.kind = "square"; return setmetatable(q, Square) end
function Square:perimeter() return 4 * self.w end

local Tri = setmetatable({}, { __index = Shape })
Tri.__index = Tri
function Tri.new(a) local t = Shape.new("tri"); t.a = a; return setmetatable(t, Tri) end
function Tri:area() return self.a * self.a * 433 / 1000 end
function Tri:perimeter() return 3 * self.a end

local Vec = {}
Vec.__index = Vec
local function vec(x, y) return setmetatable({ x = x, y = y }, Vec) end
Vec.__add = function(a, b) return vec(a.x + b.x, a.y + b.y) end
Vec.__mul = function(a, k) return vec(a.x * k, a.y * k) end
function Vec:dot(o) return self.x * o.x + self.y * o.y end

local shapes = {}
for i = 1, 60 do
  local k = i % 3
  if k == 0 then shapes[i] = Rect.new(i % 7 + 1, i % 5 + 1)
  elseif k == 1 then shapes[i] = Square.new(i % 9 + 1)
  else shapes[i] = Tri.new(i % 4 + 1) end
end

local acc = 0
for r = 1, n / 60 do
  for i = 1, #shapes do
    local s = shapes[i]
    s:move(1)
    acc = acc + s:describe()
  end
end

local v = vec(0, 0)
local step = vec(1, 2)
local dots = 0
for i = 1, n do
  v = v + step * (i % 3)
  dots = (dots + v:dot(step)) % 1000003
end

local moved = 0
for i = 1, #shapes do moved = moved + shapes[i].moved end
io.write(string.format("acc %.6f moved %d v %d,%d dots %d\n", acc, moved, v.x, v.y, dots))
