// Package classify sorts delivery failures into bounce classes: why a
// recipient failed or was deferred (invalid recipient, mailbox full, spam
// block, rate limited, ...), decided from the reply's code, enhanced code
// and text by a list of rules, as KumoMTA's bounce classifier does.
//
// It reads a rules file ("class pattern" lines, see Parse) and the rules
// shipped in the binary (default.rules); the queue manager classifies
// every 4xx and 5xx outcome with the rules in effect, and the class goes
// with the outcome into the queue file, the delivery log line and the
// delivery events. A reload swaps the rules whole (Classifier.Set): a
// file with a bad line is refused and the running rules stay.
//
// Classification never fails: a reply no rule matches is "transient" when
// temporary and "unclassified" when permanent.
package classify
