local address = require("address")

function Test_parse_display_form(t)
  local a = address.parse("Foo <A@Example.COM>")
  t:eq(a["local"], "A", "local part keeps its case")
  t:eq(a.domain, "example.com", "domain lower-cased")
  t:eq(a.display, "Foo")
end

function Test_parse_plain_and_bare(t)
  t:eq(address.parse("u@d.example").domain, "d.example")
  t:eq(address.parse("postmaster")["local"], "postmaster")
  local a, err = address.parse("not an <address")
  t:eq(a, nil)
  t:ok(err ~= nil, "error message given")
end

function Test_split(t)
  local l, d = address.split("a@b@c.example")
  t:eq(l, "a@b")
  t:eq(d, "c.example")
  l, d = address.split("nobody")
  t:eq(l, "nobody")
  t:eq(d, "")
end

function Test_idna(t)
  t:eq(address.to_ascii("BÜCHER.example"), "xn--bcher-kva.example")
  t:eq(address.to_unicode("xn--bcher-kva.example"), "bücher.example")
  t:eq(address.normalize("u@BÜCHER.example."), "u@xn--bcher-kva.example")
end

function Test_valid(t)
  t:ok(address.valid("u@example.com"))
  t:ok(not address.valid("u"), "no domain")
  t:ok(not address.valid("u@"), "empty domain")
  t:ok(not address.valid("a\r\nb@c"), "CRLF")
end

function Test_extension(t)
  t:eq(address.extension("u+tag@d"), "tag")
  t:eq(address.extension("u@d"), nil)
  t:eq(address.extension("u-tag@d", "-"), "tag")
  t:eq(address.strip_extension("u+tag+x@d"), "u@d")
  t:eq(address.strip_extension("u@d"), "u@d")
  t:eq(address.extension("+tag@d"), nil, "a leading delimiter is not an extension")
end
