-- A small interpreter loop: a register bytecode VM written in Lua, dispatching on
-- opcode numbers through an if-chain, running a program that counts primes and sums
-- a Collatz-like sequence.
local n = tonumber(arg and arg[1]) or 3000

local LOADK, MOV, ADD, SUB, MUL, MOD, JMP, JLT, JEQ, JNE, HALT = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11

-- Assembler: each instruction is {op, a, b, c}; jump targets are instruction indices.
local function program(limit)
  return {
    { LOADK, 1, 2 },        -- 1  r1 = k = 2
    { LOADK, 2, 0 },        -- 2  r2 = count = 0
    { LOADK, 3, limit },    -- 3  r3 = limit
    { LOADK, 4, 0 },        -- 4  r4 = 0
    { LOADK, 5, 1 },        -- 5  r5 = 1
    { LOADK, 9, 0 },        -- 6  r9 = checksum
    -- outer: while k < limit
    { JLT, 1, 3, 9 },       -- 7  if k < limit goto 9
    { JMP, 23 },            -- 8  goto end
    { LOADK, 6, 2 },        -- 9  d = 2
    { MUL, 7, 6, 6 },       -- 10 r7 = d*d
    { JLT, 1, 7, 17 },      -- 11 if k < d*d goto prime
    { MOD, 8, 1, 6 },       -- 12 r8 = k % d
    { JEQ, 8, 4, 20 },      -- 13 if r8 == 0 goto next
    { ADD, 6, 6, 5 },       -- 14 d = d + 1
    { JMP, 10 },            -- 15
    { JMP, 20 },            -- 16 (unused)
    { ADD, 2, 2, 5 },       -- 17 prime: count = count + 1
    { ADD, 9, 9, 1 },       -- 18 checksum += k
    { JMP, 20 },            -- 19
    { ADD, 1, 1, 5 },       -- 20 next: k = k + 1
    { JNE, 4, 5, 7 },       -- 21 always (0 ~= 1) goto outer
    { HALT },               -- 22
    { HALT },               -- 23 end
  }
end

local function run(code)
  local r = {}
  for i = 0, 15 do r[i] = 0 end
  local pc, steps = 1, 0
  while true do
    local ins = code[pc]
    local op = ins[1]
    steps = steps + 1
    pc = pc + 1
    if op == ADD then r[ins[2]] = r[ins[3]] + r[ins[4]]
    elseif op == MUL then r[ins[2]] = r[ins[3]] * r[ins[4]]
    elseif op == MOD then r[ins[2]] = r[ins[3]] % r[ins[4]]
    elseif op == SUB then r[ins[2]] = r[ins[3]] - r[ins[4]]
    elseif op == JLT then if r[ins[2]] < r[ins[3]] then pc = ins[4] end
    elseif op == JEQ then if r[ins[2]] == r[ins[3]] then pc = ins[4] end
    elseif op == JNE then if r[ins[2]] ~= r[ins[3]] then pc = ins[4] end
    elseif op == JMP then pc = ins[2]
    elseif op == LOADK then r[ins[2]] = ins[3]
    elseif op == MOV then r[ins[2]] = r[ins[3]]
    elseif op == HALT then return r, steps
    else error("bad opcode " .. tostring(op)) end
  end
end

local r, steps = run(program(n * 10))
io.write(string.format("primes below %d: %d checksum %d steps %d\n", n * 10, r[2], r[9], steps))
