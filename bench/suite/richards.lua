-- A Richards-like task scheduler: an idle task, two workers, two device handlers and
-- packets moving between queues; priorities, state flags and method dispatch through
-- per-task function fields.
local n = tonumber(arg and arg[1]) or 100

local IDLE, WORKER, HANDLER_A, HANDLER_B, DEVICE_A, DEVICE_B = 1, 2, 3, 4, 5, 6
local KIND_DEVICE, KIND_WORK = 0, 1

local Scheduler = {}
Scheduler.__index = Scheduler

local function packet(link, id, kind)
  return { link = link, id = id, kind = kind, a1 = 0, a2 = {} }
end

local function append(pkt, queue)
  pkt.link = nil
  if queue == nil then return pkt end
  local p = queue
  while p.link do p = p.link end
  p.link = pkt
  return queue
end

function Scheduler.new()
  return setmetatable({ tasks = {}, list = nil, current = nil, holds = 0, qpkts = 0 }, Scheduler)
end

function Scheduler:add(id, pri, queue, fn, data)
  local t = { id = id, pri = pri, queue = queue, fn = fn, data = data, link = self.list,
              waiting = queue == nil, held = false, runnable = queue ~= nil }
  self.tasks[id] = t
  self.list = t
  -- Keep the list ordered by priority, highest first, so scheduling is a list walk.
  local arr = {}
  local p = self.list
  while p do arr[#arr + 1] = p; p = p.link end
  table.sort(arr, function(x, y) if x.pri ~= y.pri then return x.pri > y.pri end return x.id < y.id end)
  for i = 1, #arr do arr[i].link = arr[i + 1] end
  self.list = arr[1]
end

function Scheduler:run()
  local t = self.list
  while t do
    if t.held or (t.waiting and t.queue == nil) then
      t = t.link
    else
      local pkt = nil
      if t.waiting and t.queue then
        pkt = t.queue
        t.queue = pkt.link
        t.waiting = false
      end
      self.current = t
      t = t.fn(self, t, pkt)
    end
  end
end

function Scheduler:wait(t)
  t.waiting = true
  return t.link
end

function Scheduler:release(id)
  local t = self.tasks[id]
  t.held = false
  if t.pri > self.current.pri then return t end
  return self.current
end

function Scheduler:hold(t)
  self.holds = self.holds + 1
  t.held = true
  return t.link
end

function Scheduler:queue(pkt)
  local t = self.tasks[pkt.id]
  self.qpkts = self.qpkts + 1
  pkt.link = nil
  pkt.id = self.current.id
  t.queue = append(pkt, t.queue)
  if t.pri > self.current.pri and t.waiting then return t end
  return self.current
end

local function idle_fn(s, t, _)
  local d = t.data
  d.count = d.count - 1
  if d.count == 0 then return s:hold(t) end
  if d.v % 2 == 0 then
    d.v = math.floor(d.v / 2)
    return s:release(DEVICE_A)
  end
  d.v = math.floor(d.v / 2) + 53256
  return s:release(DEVICE_B)
end

local function worker_fn(s, t, pkt)
  if pkt == nil then return s:wait(t) end
  local d = t.data
  d.dest = (d.dest == HANDLER_A) and HANDLER_B or HANDLER_A
  pkt.id = d.dest
  pkt.a1 = 0
  for i = 1, 4 do
    d.count = d.count + 1
    if d.count > 26 then d.count = 1 end
    pkt.a2[i] = 64 + d.count
  end
  return s:queue(pkt)
end

local function handler_fn(s, t, pkt)
  local d = t.data
  if pkt then
    if pkt.kind == KIND_WORK then d.work = append(pkt, d.work) else d.dev = append(pkt, d.dev) end
  end
  if d.work then
    local w = d.work
    local cnt = w.a1 + 1
    if cnt > 4 then
      d.work = w.link
      return s:queue(w)
    end
    if d.dev then
      local dv = d.dev
      d.dev = dv.link
      dv.a1 = w.a2[cnt]
      w.a1 = cnt
      return s:queue(dv)
    end
  end
  return s:wait(t)
end

local function device_fn(s, t, pkt)
  local d = t.data
  if pkt == nil then
    if d.pending == nil then return s:wait(t) end
    local p = d.pending
    d.pending = nil
    return s:queue(p)
  end
  d.pending = pkt
  d.sum = (d.sum or 0) + pkt.a1
  return s:hold(t)
end

local total_q, total_h, sum = 0, 0, 0
for round = 1, n do
  local s = Scheduler.new()
  s:add(IDLE, 0, packet(nil, 0, KIND_WORK), idle_fn, { v = 1, count = 1000 + round % 7 })
  local wq = append(packet(nil, 0, KIND_WORK), packet(nil, 0, KIND_WORK))
  s:add(WORKER, 1000, wq, worker_fn, { dest = HANDLER_A, count = 0 })
  local qa = append(packet(nil, DEVICE_A, KIND_DEVICE), append(packet(nil, DEVICE_A, KIND_DEVICE), packet(nil, DEVICE_A, KIND_DEVICE)))
  s:add(HANDLER_A, 2000, qa, handler_fn, {})
  local qb = append(packet(nil, DEVICE_B, KIND_DEVICE), append(packet(nil, DEVICE_B, KIND_DEVICE), packet(nil, DEVICE_B, KIND_DEVICE)))
  s:add(HANDLER_B, 3000, qb, handler_fn, {})
  s:add(DEVICE_A, 4000, nil, device_fn, {})
  s:add(DEVICE_B, 5000, nil, device_fn, {})
  s:run()
  total_q = total_q + s.qpkts
  total_h = total_h + s.holds
  sum = (sum + (s.tasks[DEVICE_A].data.sum or 0) * 3 + (s.tasks[DEVICE_B].data.sum or 0)) % 1000003
end
io.write(string.format("rounds %d queued %d holds %d sum %d\n", n, total_q, total_h, sum))
