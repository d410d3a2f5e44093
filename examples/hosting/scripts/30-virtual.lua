-- Virtual alias expansion, in cleanup as Postfix does it: the queued
-- message carries the final mailbox addresses, so the transport hook
-- and the queue see one recipient per mailbox (each with its own
-- options), and an alias naming two mailboxes stores the message once.
-- Unknown addresses (mail that did not come through the rcpt check, such
-- as sendmail's) are left alone; the transport hook refuses them.
mta.on("cleanup", function(msg)
  for _, rcpt in ipairs(msg:recipients()) do
    local targets = hosting.hosted(hosting.domain(rcpt)) and hosting.expand(rcpt)
    if targets and not (#targets == 1 and targets[1] == rcpt) then
      msg:remove_recipient(rcpt)
      for _, t in ipairs(targets) do msg:add_recipient(t) end
    end
  end
end)
