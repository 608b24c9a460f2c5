-- counter: two init_ functions that wait different times (they run concurrently, so the app
-- is ready after the longer one, not after the sum), a counter routine, and commands.
local count = 0
local ready_at

function init_config()
  swarm.sleep(300)
  count = swarm.config("counter.start") or 0
  swarm.log("init_config done")
end

function init_slow()
  swarm.sleep(800)
  swarm.log("init_slow done")
end

function routine_count()
  ready_at = swarm.now()
  swarm.log("counting from", count, "ready at", ready_at, "ms")
  while true do
    count = count + 1
    swarm.sleep(1000)
  end
end

swarm.command("get", function() return count end, "the current count")

swarm.command("add", function(args)
  count = count + (args.n or 1)
  return count
end, "add n (default 1) to the count; returns the new count")

swarm.command("later", function(args)
  swarm.sleep(args.ms or 100)  -- a command may wait: the reply comes when it returns
  return { count = count, waited = args.ms or 100 }
end, "answer after ms milliseconds")
