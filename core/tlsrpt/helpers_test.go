package tlsrpt

import "os"

func writeFile(name, data string) error { return os.WriteFile(name, []byte(data), 0o600) }

func readable(name string) error {
	_, err := os.Stat(name)
	return err
}
