package lookup

import "testing"

// TestPasswdKnowsItsOwnUser: a daemon run under a uid without a passwd
// entry (a container's) still takes its own user's mail.
func TestPasswdKnowsItsOwnUser(t *testing.T) {
	p := passwdTable{self: "moonpost-self-test"}
	if v, ok := p.lookup("Moonpost-Self-Test"); !ok || v != "moonpost-self-test" {
		t.Errorf("own user: %v %v", v, ok)
	}
	if _, ok := p.lookup("moonpost-other-test"); ok {
		t.Error("a name not in passwd was found")
	}
	if _, ok := newPasswdTable().lookup("root"); !ok {
		t.Error("root not found in the account database")
	}
}
