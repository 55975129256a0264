// Package mobileconfig writes the configuration profile (.mobileconfig)
// MDMs (Jamf Pro, Intune, Kandji, …) install on Macs before Desktop
// (spec 06): a managed-preferences payload that fixes the activation
// experience (SSO, or a license key with the key) and, optionally, a
// privacy (PPPC) payload that lets the Desktop bundle reach the Desktop,
// Documents and Downloads folders without asking.
//
// Identifiers and UUIDs are derived from the account, the key and the
// settings, so downloading the same profile twice gives the same bytes and
// an MDM sees an updated profile (same PayloadIdentifier) rather than a new
// one when settings change.
package mobileconfig

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/smallstep/pkcs7"
)

// Experiences.
const (
	ExperienceSSO = "sso"
	ExperienceKey = "key"
)

// BundleID is Desktop's bundle identifier; the app and its VMs share it
// for privacy (TCC) purposes, and its preferences domain carries the
// managed activation settings.
const BundleID = "com.parallels.desktop.console"

// DefaultCodeRequirement is the designated requirement of the signed
// Desktop app the PPPC payload names (check with `codesign -dr - <app>`).
const DefaultCodeRequirement = `identifier "com.parallels.desktop.console" and anchor apple generic and certificate leaf[subject.OU] = "4C6364ACXT"`

// Options describe one profile.
type Options struct {
	// IdentifierPrefix is a reverse-DNS prefix, e.g. com.example.gatehouse
	// (derived from the public URL by the caller).
	IdentifierPrefix string
	AccountID        string
	AccountName      string
	// KeyID and KeyLabel name the license key the profile is for ("" for
	// an account-wide SSO profile).
	KeyID    string
	KeyLabel string
	// Experience is sso or key; LicenseKey is required with key.
	Experience string
	LicenseKey string
	// PPPC adds the privacy payload.
	PPPC bool
	// CodeRequirement overrides DefaultCodeRequirement.
	CodeRequirement string
}

var prefixRe = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)

// namespace roots the name-based UUIDs (UUIDv5) of every profile.
var namespace = uuid.MustParse("5d0a3a0e-6f0b-4d7e-9a57-2b6c4f1e8d21")

// PayloadIdentifier is the profile's identifier: stable per account and
// key whatever the settings, so MDMs replace the installed profile.
func (o *Options) PayloadIdentifier() string {
	scope := "account"
	if o.KeyID != "" {
		scope = o.KeyID
	}
	return fmt.Sprintf("%s.desktop-activation.%s.%s", o.IdentifierPrefix, o.AccountID, scope)
}

func (o *Options) uuidFor(part string) string {
	settings := strings.Join([]string{o.PayloadIdentifier(), o.Experience, o.LicenseKey, fmt.Sprint(o.PPPC), o.codeRequirement(), part}, "\x00")
	return strings.ToUpper(uuid.NewSHA1(namespace, []byte(settings)).String())
}

func (o *Options) codeRequirement() string {
	if o.CodeRequirement != "" {
		return o.CodeRequirement
	}
	return DefaultCodeRequirement
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch {
	case !prefixRe.MatchString(o.IdentifierPrefix):
		return errors.New("the identifier prefix must be reverse-DNS, like com.example.gatehouse")
	case o.AccountID == "":
		return errors.New("the profile needs an account")
	case o.Experience != ExperienceSSO && o.Experience != ExperienceKey:
		return errors.New("choose the SSO or the license key experience")
	case o.Experience == ExperienceKey && o.LicenseKey == "":
		return errors.New("the license key experience needs the key")
	case o.Experience == ExperienceSSO && o.LicenseKey != "":
		return errors.New("an SSO profile carries no license key")
	}
	return nil
}

// Generate writes the profile as an XML property list.
func Generate(o Options) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	id := o.PayloadIdentifier()
	experience, label := "SSO", "SSO (company sign-in)"
	if o.Experience == ExperienceKey {
		experience, label = "LicenseKey", "license key …"+o.LicenseKey[max(0, len(o.LicenseKey)-6):]
	}
	activation := dict{
		{"PayloadDisplayName", "Desktop activation"},
		{"PayloadIdentifier", id + ".activation"},
		{"PayloadType", BundleID},
		{"PayloadUUID", o.uuidFor("activation")},
		{"PayloadVersion", 1},
		{"ActivationExperience", experience},
	}
	if o.Experience == ExperienceKey {
		activation = append(activation, kv{"LicenseKey", o.LicenseKey})
	}
	content := []any{activation}
	if o.PPPC {
		entry := func() []any {
			return []any{dict{
				{"Allowed", true},
				{"Authorization", "Allow"},
				{"CodeRequirement", o.codeRequirement()},
				{"Comment", "Desktop and its virtual machines"},
				{"Identifier", BundleID},
				{"IdentifierType", "bundleID"},
				{"StaticCode", false},
			}}
		}
		content = append(content, dict{
			{"PayloadDisplayName", "Privacy preferences for Desktop"},
			{"PayloadIdentifier", id + ".pppc"},
			{"PayloadType", "com.apple.TCC.configuration-profile-policy"},
			{"PayloadUUID", o.uuidFor("pppc")},
			{"PayloadVersion", 1},
			{"Services", dict{
				{"SystemPolicyDesktopFolder", entry()},
				{"SystemPolicyDocumentsFolder", entry()},
				{"SystemPolicyDownloadsFolder", entry()},
			}},
		})
	}
	desc := "Makes Desktop activate with " + label
	if o.KeyLabel != "" {
		desc += " (" + o.KeyLabel + ")"
	}
	if o.PPPC {
		desc += " and lets it reach the Desktop, Documents and Downloads folders"
	}
	root := dict{
		{"PayloadContent", content},
		{"PayloadDescription", desc + "."},
		{"PayloadDisplayName", "Desktop activation: " + label},
		{"PayloadIdentifier", id},
		{"PayloadOrganization", o.AccountName},
		{"PayloadRemovalDisallowed", true},
		{"PayloadScope", "System"},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", o.uuidFor("profile")},
		{"PayloadVersion", 1},
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	if err := write(&b, root, 0); err != nil {
		return nil, err
	}
	b.WriteString("</plist>\n")
	return b.Bytes(), nil
}

// Signer signs profiles (CMS SignedData, the content attached) with an
// operator-provided certificate, so macOS shows the profile as verified.
type Signer struct {
	cert  *x509.Certificate
	chain []*x509.Certificate
	key   crypto.PrivateKey
}

// LoadSigner reads a PEM certificate (its chain may follow) and a PEM
// private key (PKCS#8, PKCS#1 or SEC 1).
func LoadSigner(certFile, keyFile string) (*Signer, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("profile signing certificate: %w", err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("profile signing key: %w", err)
	}
	return NewSigner(cb, kb)
}

// NewSigner is LoadSigner on PEM bytes.
func NewSigner(certPEM, keyPEM []byte) (*Signer, error) {
	s := &Signer{}
	for rest := certPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("profile signing certificate: %w", err)
		}
		if s.cert == nil {
			s.cert = c
		} else {
			s.chain = append(s.chain, c)
		}
	}
	if s.cert == nil {
		return nil, errors.New("profile signing certificate: no PEM CERTIFICATE found")
	}
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return nil, errors.New("profile signing key: no PEM block found")
	}
	var err error
	if s.key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		if s.key, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			if s.key, err = x509.ParseECPrivateKey(blk.Bytes); err != nil {
				return nil, errors.New("profile signing key: not a PKCS#8, PKCS#1 or EC private key")
			}
		}
	}
	return s, nil
}

// Sign wraps a profile in CMS SignedData (DER), SHA-256.
func (s *Signer) Sign(profile []byte) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(profile)
	if err != nil {
		return nil, fmt.Errorf("sign profile: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(s.cert, s.key, s.chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign profile: %w", err)
	}
	out, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("sign profile: %w", err)
	}
	return out, nil
}
