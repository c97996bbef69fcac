-- wrk script: POST a fixed chat-completions body.
-- Usage: wrk ... -s bench/post.lua URL -- <body-file> [<bearer key>]
-- The body is read once per thread in init(); wrk then reuses the pre-built request,
-- so the script adds no per-request Lua work (no request()/response() callbacks).

function init(args)
   local path = args[1]
   if path == nil then
      error("post.lua: pass the body file after --")
   end
   local f = assert(io.open(path, "rb"))
   local body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
   local key = args[2]
   if key ~= nil and key ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. key
   end
end
