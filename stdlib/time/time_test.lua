local time = require("time")

function Test_now(t)
  local a = time.now()
  t:ok(a > 1600000000, "unix seconds")
  t:ok(time.now() >= a, "monotone enough")
end

function Test_format(t)
  t:eq(time.format(1700000000, "rfc5322", "UTC"), "Tue, 14 Nov 2023 22:13:20 +0000")
  t:eq(time.format(1700000000, "rfc3339", "UTC"), "2023-11-14T22:13:20Z")
  t:eq(time.format(1700000000, "2006-01-02 15h", "UTC"), "2023-11-14 22h")
  t:ok(not pcall(time.format, 0, "date", "Mars/Olympus"), "bad zone raises")
end

function Test_parse(t)
  t:eq(time.parse("Tue, 14 Nov 2023 22:13:20 +0000"), 1700000000)
  t:eq(time.parse("14 Nov 2023 23:13:20 +0100"), 1700000000)
  t:eq(time.parse("2023-11-14T22:13:20Z"), 1700000000)
  t:eq(time.parse("2023-11-14", "date"), 1699920000)
  local v, err = time.parse("yesterday")
  t:eq(v, nil)
  t:ok(err ~= nil)
end

function Test_no_sleep(t)
  t:eq(time.sleep, nil)
end
