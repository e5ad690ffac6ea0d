-- wrk script: POST /api/invite/send-email with 100 addresses no other request used, so the
-- benchmark measures inviting rather than requests racing to replace each other's invitations.
wrk.headers["Content-Type"] = "application/json"

-- Each wrk thread has its own Lua state; `setup` numbers them so their addresses never collide.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local counter = 0

request = function()
  counter = counter + 1
  local emails = {}
  for i = 1, 100 do
    emails[i] = string.format('"load-%d-%d-%d@bench.example.org"', thread_id, counter, i)
  end
  local body = '{"role": "AN", "emails": [' .. table.concat(emails, ",") .. ']}'
  -- nil headers: wrk.headers (with -H Authorization) are used as they are.
  return wrk.format("POST", nil, nil, body)
end
