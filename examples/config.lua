-- Configuration of the example host (examples/config_host.rs). Plain Lua: settings are
-- globals, behaviour is functions the host calls.

name = "edge-proxy"
listen = { host = "0.0.0.0", port = 8080 }
workers = 4
upstreams = { "10.0.0.1:9000", "10.0.0.2:9000" }

-- Called by the host for each request; `req` is a Rust userdata.
function route(req)
  if req.path:sub(1, 5) == "/api/" then
    local i = (#req.path % #upstreams) + 1
    return upstreams[i]
  end
  if req.method == "DELETE" and not req:has_header("x-admin") then
    log("refusing " .. req.method .. " " .. req.path)
    return nil, 403
  end
  return "static", 200
end
