-- halfclose.lua: what deploy/haproxy/haproxy.cfg does when its checks
-- have every replica DOWN. Loaded by the "lua-load" line of haproxy.cfg,
-- from the directory haproxy.cfg is in.
--
-- The checks lag behind the replicas: a replica is DOWN after two failed
-- checks and UP again only after two good ones in a row (fall 2, rise
-- 2). When all were DOWN (all crashed, or restarted close together),
-- HAProxy sent nothing to any until one rose again, up to ~2 s after
-- they were back: every gRPC call got HAProxy's 503, and every raw-TCP
-- client a clean close with nothing written, which it cannot tell from a
-- job whose output is empty.
--
--   pick_ready_replica (an action, in tcp_in and grpc_in): while no
--   server of the checked backend it is given is UP, picks one whose
--   last check passed (/readyz answered 200: back and ready, rising),
--   and sets txn.ready_replica to its name; the configuration then sends
--   the connection or call to that replica in the backend without
--   checks. It sends nothing itself (no probe connection a replica would
--   log as a job), and it never picks a replica whose last check failed:
--   a draining one (/readyz 503), one that is down, or any, when the
--   checks themselves are broken; nor one an operator put in maintenance
--   or drain.
--
--   no_replica_error (a service, in listen tcp_no_replica_line): when no
--   replica is ready, answers the raw-TCP client as a replica answers a
--   job it cannot run, with the adapter's error line "halfclose: error:
--   UNAVAILABLE: <message>", then reads and drops what the client still
--   sends, so that HAProxy does not close the connection with input
--   unread (the kernel would reset it, and the line with it). HAProxy
--   2.6's applets cannot close their sending side on their own: the
--   client's end (a FIN after the line) comes when the service returns,
--   at the client's FIN. A client still sending fin_wait after the line
--   (checked each time a read of read_size bytes completes) is cut, as a
--   replica cuts one after --tcp-fin-wait. A client that sends nothing
--   and no FIN is closed by haproxy.cfg's backend tcp_no_replica
--   ("timeout tunnel 5s"): a read here cannot be given a deadline in
--   2.6.

--   note_empty_input (an action, in tcp_in and route_in) and
--   empty_input (a service): a client that closes its sending side
--   before its first byte (nc -N < /dev/null). HAProxy 2.6 counts that
--   as a client abort whenever it reads the FIN before the replica's
--   connection is up, an empty request with nothing to pass on: it
--   resets the replica's connection (the replica logs the job as
--   "reset", no result) and closes the client's cleanly, with nothing
--   written. Measured: 10 of 300 such connections to the route port,
--   38 of 300 to the command port, and 146 of 500 to the route port
--   without the tcp-request rules (backend.c, back_handle_st_con:
--   "client abort during connection attempt"). No option turns it off.
--   So the frontends wait (within their inspect-delay) for the first
--   byte or the FIN; at a FIN with nothing before it, note_empty_input
--   names the port in txn.empty_input, and empty_input answers what
--   a replica would, every time: on the command port, the replica's own
--   line for a connection without a header; on a route port, where an
--   empty input is a job, a line saying it cannot pass through HAProxy.
--   In cleartext: with TLS passed through, a client's first byte is its
--   ClientHello, and only one that sends no byte at all gets the line
--   (a TLS replica would close without a word).

-- fin_wait is how long, in seconds, no_replica_error reads what a client
-- sends after the error line: halfclosed's --tcp-fin-wait default.
local fin_wait = 5

-- read_size is what one read waits for (AppletTCP:receive(n) returns
-- with n bytes, or fewer only at the client's FIN): small, so that a
-- client sending slowly meets fin_wait soon; big enough that a large
-- upload is dropped in few calls.
local read_size = 1024

core.register_action("pick_ready_replica", { "tcp-req", "http-req" }, function(txn, checked)
  local be = core.backends[checked]
  if be == nil then
    return
  end
  local ready = {}
  for name, srv in pairs(be.servers) do
    local st = srv:get_stats()
    -- While a check runs, the stats give its last result behind "* "
    -- ("* L7OK"): the last check passed all the same.
    local last = (string.gsub(st.check_status or "", "^%* ", ""))
    if last == "L7OK" and not string.find(st.status, "MAINT", 1, true) and not string.find(st.status, "DRAIN", 1, true) then
      ready[#ready + 1] = name
    end
  end
  if #ready > 0 then
    txn:set_var("txn.ready_replica", ready[math.random(#ready)])
  end
end, 1)

local function seconds()
  local now = core.now()
  return now.sec + now.usec / 1e6
end

core.register_service("no_replica_error", "tcp", function(applet)
  applet:send("halfclose: error: UNAVAILABLE: haproxy: no replica is ready to take the connection\n")
  local deadline = seconds() + fin_wait
  while true do
    -- A read returns fewer than read_size bytes only at the client's FIN.
    local data = applet:receive(read_size)
    if data == nil or #data < read_size then
      return
    end
    if seconds() >= deadline then
      break
    end
  end
  -- fin_wait has passed and the client still sends: an error ends the
  -- service with its input unread, and HAProxy closes the client's
  -- connection at once (its next send fails, EPIPE or ECONNRESET), as a
  -- replica resets one after --tcp-fin-wait. HAProxy logs it as an
  -- ALERT, "Lua applet tcp '<lua.no_replica_error>': ... runtime error:
  -- ... <this message>": the only way a 2.6 applet has to abort.
  error("the client sent on for fin_wait (5 s) after the error line: connection closed")
end)

core.register_action("note_empty_input", { "tcp-req" }, function(txn, port)
  if txn.req:input() == 0 and not txn.req:may_recv() then
    txn:set_var("txn.empty_input", port)
  end
end, 1)

local empty_input_lines = {
  -- What halfclosed answers itself (server/tcp.go).
  command = "halfclose: error: INVALID_ARGUMENT: missing header line: the first line must be the pipeline\n",
  route = "halfclose: error: UNIMPLEMENTED: haproxy: an empty input cannot reach a replica through HAProxy (mode tcp drops a connection that ends before its first byte); send it through nginx, or to the command port\n",
}

core.register_service("empty_input", "tcp", function(applet)
  local line = empty_input_lines[applet:get_var("txn.empty_input")] or empty_input_lines.route
  applet:send(line)
end)
