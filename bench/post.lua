-- wrk script: sends BODY (from the environment) with the method METHOD as JSON.
wrk.method = os.getenv("METHOD") or "POST"
wrk.body = os.getenv("BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"
