-- blink: the classic first app. Reads the board's temperature at start, blinks the LED,
-- reports the temperature, and answers "blink.status".
local M = {}

local led = false
local blinks = 0
local temp = nil

function M.init_sensor()
  temp = swarm.call("board.temp")
  swarm.log(string.format("init: temperature %.2f °C", temp))
end

function M.routine_blink()
  while true do
    led = not led
    swarm.call("board.led", { v = led })
    if led then blinks = blinks + 1 end
    swarm.sleep(500)
  end
end

function M.routine_report()
  while true do
    temp = swarm.call("board.temp")
    swarm.log(string.format("temperature %.2f °C after %d blinks", temp, blinks))
    swarm.sleep(5000)
  end
end

swarm.command("status", function()
  return { led = led, temp = temp, blinks = blinks }
end, "LED state, last temperature and number of blinks")

return M
