local sql = require("sql")

-- Each database with its own placeholder syntax.
local dbs = {
  {name = "lite", one = "?", two = "?"},
  {name = "pg", one = "$1", two = "$2"},
}

function Test_query_rows(t)
  for _, d in ipairs(dbs) do
    local rows = sql.query(d.name, "SELECT name, rate, quota, note FROM tenants ORDER BY name")
    t:eq(#rows, 2)
    t:eq(rows[1].name, "acme")
    t:eq(rows[1].quota, 500)
    t:eq(rows[1].note, nil) -- NULL is absent
    t:eq(rows[2].rate, "20/min")
  end
end

function Test_query_row_with_placeholders(t)
  for _, d in ipairs(dbs) do
    local row = sql.query_row(d.name, "SELECT rate FROM tenants WHERE name = " .. d.one, "globex")
    t:eq(row.rate, "20/min")
    t:eq(sql.query_row(d.name, "SELECT rate FROM tenants WHERE name = " .. d.one, "nobody"), nil)
    -- a value that looks like SQL is only ever a value
    t:eq(sql.query_row(d.name, "SELECT rate FROM tenants WHERE name = " .. d.one, "x' OR '1'='1"), nil)
  end
end

function Test_exec(t)
  for _, d in ipairs(dbs) do
    local n = sql.exec(d.name, "UPDATE tenants SET quota = " .. d.one .. " WHERE name = " .. d.two, 7, "acme")
    t:eq(n, 1)
    t:eq(sql.query_row(d.name, "SELECT quota FROM tenants WHERE name = 'acme'").quota, 7)
  end
end

function Test_errors(t)
  local ok, err = pcall(sql.query, "nope", "SELECT 1")
  t:ok(not ok and tostring(err):find("no database"), tostring(err))
  ok, err = pcall(sql.query, "lite", "SELEC 1")
  t:ok(not ok and tostring(err):find("sql lite"), tostring(err))
  ok, err = pcall(sql.query, "pg", "SELECT $1", {})
  t:ok(not ok and tostring(err):find("query value"), tostring(err))
end
