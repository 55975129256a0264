package license

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"gatehouse/internal/store"
)

// Settings rows holding the licensing secrets. Both are made once by
// whichever node starts first (store.EnsureSetting) so every node shares them.
const (
	settingSigningKey = "license.activation_signing_key" // base64 Ed25519 seed
	settingSealKey    = "license.seal_key"               // base64 AES-256 key
)

// secrets holds the keys loaded from settings.
type secrets struct {
	mu      sync.Mutex
	ready   atomic.Bool // set once the fields below are filled; then read-only
	loaded  bool
	signKey ed25519.PrivateKey
	keyID   string
	aead    cipher.AEAD
}

func (s *Service) loadSecrets(ctx context.Context) (*secrets, error) {
	sec := &s.sec
	if sec.ready.Load() { // every check and activation passes here
		return sec, nil
	}
	sec.mu.Lock()
	defer sec.mu.Unlock()
	if sec.loaded {
		return sec, nil
	}
	seedB64, err := store.EnsureSetting(ctx, s.DB, settingSigningKey, func() (string, error) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(seed), nil
	})
	if err != nil {
		return nil, fmt.Errorf("activation signing key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(seedB64)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("activation signing key: settings value is corrupt")
	}
	sealB64, err := store.EnsureSetting(ctx, s.DB, settingSealKey, func() (string, error) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(k), nil
	})
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	sealKey, err := base64.StdEncoding.DecodeString(sealB64)
	if err != nil || len(sealKey) != 32 {
		return nil, errors.New("seal key: settings value is corrupt")
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sec.signKey = ed25519.NewKeyFromSeed(seed)
	sec.keyID = publicKeyID(sec.signKey.Public().(ed25519.PublicKey))
	sec.aead = aead
	sec.loaded = true
	sec.ready.Store(true)
	return sec, nil
}

// publicKeyID names a signing key: the first 16 hex digits of the SHA-256 of
// the raw public key.
func publicKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// seal encrypts a secret that admins must be able to read again (a license
// key, an invitation code) so that a copy of the licensing tables alone does
// not reveal it. purpose binds the ciphertext to its row kind.
func (sec *secrets) seal(purpose, plaintext string) string {
	nonce := make([]byte, sec.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out := sec.aead.Seal(nonce, nonce, []byte(plaintext), []byte(purpose))
	return "v1:" + base64.RawStdEncoding.EncodeToString(out)
}

func (sec *secrets) open(purpose, sealed string) (string, error) {
	b64, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return "", errors.New("unseal: unknown format")
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < sec.aead.NonceSize() {
		return "", errors.New("unseal: corrupt value")
	}
	n := sec.aead.NonceSize()
	pt, err := sec.aead.Open(nil, raw[:n], raw[n:], []byte(purpose))
	if err != nil {
		return "", fmt.Errorf("unseal: %w", err)
	}
	return string(pt), nil
}

// PublicKey is the published half of the activation signing key.
type PublicKey struct {
	KeyID     string // kid in certificates
	Algorithm string // "Ed25519"
	Key       ed25519.PublicKey
}

// Base64 returns the raw 32-byte key in standard base64.
func (p PublicKey) Base64() string { return base64.StdEncoding.EncodeToString(p.Key) }

// PEM returns the key as a PEM "PUBLIC KEY" block (PKIX).
func (p PublicKey) PEM() string {
	der, err := x509.MarshalPKIXPublicKey(p.Key)
	if err != nil {
		panic(err) // an ed25519.PublicKey always marshals
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// ActivationPublicKey returns the key Desktop uses to verify activation
// certificates offline.
func (s *Service) ActivationPublicKey(ctx context.Context) (PublicKey, error) {
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{KeyID: sec.keyID, Algorithm: "Ed25519", Key: sec.signKey.Public().(ed25519.PublicKey)}, nil
}
