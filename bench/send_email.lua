-- wrk script: POST /api/invite/send-email with 100 addresses no other request used, so the
-- benchmark measures inviting rather than requests racing to replace each other's invitations.
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local thread_tag = tostring(math.random(1, 1e9))

request = function()
  counter = counter + 1
  local emails = {}
  for i = 1, 100 do
    emails[i] = string.format('"load-%s-%d-%d@bench.example.org"', thread_tag, counter, i)
  end
  local body = '{"role": "AN", "emails": [' .. table.concat(emails, ",") .. ']}'
  -- nil headers: wrk.headers (with -H Authorization) are used as they are.
  return wrk.format("POST", nil, nil, body)
end
