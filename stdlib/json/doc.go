// Package json is the Lua module "json": encode Lua values to JSON text
// and decode JSON text to Lua values.
//
// A table whose keys are exactly 1..n encodes as an array, any other
// table as an object (keys must be strings or numbers, and objects come
// out with sorted keys so output is stable); an empty table encodes as
// []. JSON null decodes to json.null, a sentinel that stays visible in
// arrays where nil would end them. Depth is bounded both ways, so a
// cyclic table or a hostile document fails instead of looping.
//
//	local json = require("json")
//	json.encode({a = 1, b = {1, 2}})  -- '{"a":1,"b":[1,2]}'
//	json.decode('{"a":[1,null]}')     -- {a = {1, json.null}}
package json
