-- halfclose.lua: what deploy/haproxy/haproxy.cfg's raw-TCP frontend
-- (tcp_in) does when its checks have every replica DOWN. Loaded by the
-- "lua-load" line of haproxy.cfg, from the directory haproxy.cfg is in.
--
-- HAProxy's mode tcp has no error page: when no replica takes a
-- connection it closes the client's side cleanly with nothing written,
-- which a client cannot tell from a job whose output is empty. The
-- raw-TCP adapter's contract is an error line or a reset, never that.
-- So, while the checks say no replica is up:
--
--   probe_replicas (an action): tries a TCP connect to each server of
--   the backend it is given (the replicas without checks), and sets
--   txn.replica_reachable at the first that accepts. The checks lag
--   behind the replicas (rise 2: up to ~2 s after one is back): a replica
--   that accepts takes the connection, as the configuration then sends it
--   to that backend.
--
--   no_replica_error (a service): when none accepted, answers as a
--   replica does a job it cannot run, with the adapter's error line,
--   "halfclose: error: UNAVAILABLE: <message>", and its FIN; then reads
--   and drops what the client still sends until its FIN, so that HAProxy
--   never closes the connection with input unread (the kernel would
--   reset it, and the line with it).

-- connect_timeout is how long the probe waits for each server, in
-- seconds: under haproxy.cfg's "tcp-request inspect-delay" with all
-- three servers tried.
local connect_timeout = 1

core.register_action("probe_replicas", { "tcp-req" }, function(txn, backend)
  local be = core.backends[backend]
  if be == nil then
    return
  end
  for name, srv in pairs(be.servers) do
    local host, port = string.match(srv:get_addr(), "^(.+):(%d+)$")
    if host ~= nil then
      local s = core.tcp()
      s:settimeout(connect_timeout)
      local ok = s:connect(host, tonumber(port))
      s:close()
      if ok then
        txn:set_var("txn.replica_reachable", name)
        return
      end
    end
  end
end, 1)

core.register_service("no_replica_error", "tcp", function(applet)
  applet:send("halfclose: error: UNAVAILABLE: haproxy: no replica took the connection\n")
  while true do
    local data = applet:receive(65536)
    if data == nil or data == "" then
      return
    end
  end
end)
