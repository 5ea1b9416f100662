package remediate

import (
	"crypto/sha256"
	"io"
	"os"
)

// FileSHA256 is a plugin file's sha256, as the manifest (sha256sum format)
// lists it: the host checks plugins by it, and builds write it.
func FileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
