// Package secret reads the small files that hold ringd's secrets: the
// admin token and gossip keys. ringd and ringctl read them the same way, so
// a file that works for one works for the other. Errors never contain the
// secret.
package secret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxFileSize bounds a secret file: anything larger is a device or a wrong
// path, not a key or a token.
const MaxFileSize = 64 << 10

var (
	// ErrTooLarge means a file is larger than MaxFileSize.
	ErrTooLarge = errors.New("file is too large for a key or token")
	// ErrEmptyToken means a token file holds nothing but white space.
	ErrEmptyToken = errors.New("admin token file is empty")
	// ErrInvalidKey means a key is not the base64 encoding of a 16, 24 or
	// 32 byte AES key.
	ErrInvalidKey = errors.New("gossip key must be base64 of 16, 24 or 32 bytes")
)

// ReadFile reads a small file whole, refusing anything larger than
// MaxFileSize.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(raw) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	return raw, nil
}

// Tokens reads bearer tokens: one per line, surrounding white space
// removed, empty lines skipped; at least one. Several let a token be
// rotated: the server accepts every token of its file, and a client sends
// the first of its own.
func Tokens(path string) ([]string, error) {
	raw, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	var toks []string
	for _, line := range strings.Split(string(raw), "\n") {
		if tok := strings.TrimSpace(line); tok != "" {
			toks = append(toks, tok)
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrEmptyToken)
	}
	return toks, nil
}

// GossipKeysFile reads a gossip key file: one or more keys (see
// GossipKey), one per line, the first the primary (it encrypts; all
// decrypt). Blank lines and lines starting with # are skipped. Several keys
// let a key be rotated through the file.
func GossipKeysFile(path string) ([][]byte, error) {
	raw, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := GossipKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no key: %w", path, ErrInvalidKey)
	}
	return keys, nil
}

// GossipKey decodes a gossip encryption key: the standard base64 encoding
// of a 16, 24 or 32 byte AES key, surrounding white space ignored.
func GossipKey(text string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w", ErrInvalidKey)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	default:
		return nil, fmt.Errorf("decodes to %d bytes: %w", len(key), ErrInvalidKey)
	}
}
