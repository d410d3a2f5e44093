package pickup

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"

	"github.com/moonpost/moonpost/core/queue"
)

// Post writes a local submission into the maildrop of the spool at root
// and returns its ID once it is durable. env.Client is filled in with the
// submitting user; content is the raw message as the user gave it.
func Post(root string, env *queue.Envelope, content io.Reader, limit int64) (queue.ID, error) {
	s, err := queue.OpenMaildrop(root, nil)
	if errors.Is(err, fs.ErrNotExist) && os.Getegid() == os.Getgid() {
		// No daemon has run yet: create the spool (possible when we may
		// write where it goes, as with the embedded default). A sendmail
		// running setgid (setgid_group) never creates anything with its
		// borrowed group: the daemon makes the spool.
		s, err = queue.Open(root, nil)
	}
	if err != nil {
		return "", err
	}
	defer s.Close()
	env.Client = LocalClient(uint32(os.Getuid())) // informative: pickup overwrites it
	w, err := s.Create(queue.Maildrop, env, limit)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, content); err != nil {
		w.Abort()
		return "", err
	}
	if err := w.Commit(); err != nil {
		return "", err
	}
	return w.ID(), nil
}

// LocalClient is the client of a local submission by uid: the local
// host, proto LOCAL, and as auth_user the user's name from the account
// database, or "uid=N" for a uid without one.
func LocalClient(uid uint32) queue.Client {
	id := strconv.FormatUint(uint64(uid), 10)
	name := "uid=" + id
	if u, err := user.LookupId(id); err == nil {
		name = u.Username
	}
	return queue.Client{Name: "localhost", Proto: "LOCAL", AuthUser: name}
}

// LoginName is the submitting user's name, the default sender.
func LoginName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid" + strconv.Itoa(os.Getuid())
}
